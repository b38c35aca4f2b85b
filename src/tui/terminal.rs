//! Entering and leaving the terminal's raw, alternate-screen mode — restored twice over: by a
//! guard's Drop and by a panic hook that restores before the previous hook prints.

use std::io::{stdout, Stdout};

use anyhow::{Context, Result};
use crossterm::cursor::{Hide, Show};
use crossterm::execute;
use crossterm::terminal::{disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;

pub type Tui = Terminal<CrosstermBackend<Stdout>>;

/// Restores the terminal when dropped, however the console ends.
pub struct TerminalGuard;

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

pub fn enter() -> Result<(Tui, TerminalGuard)> {
    install_panic_hook();
    enable_raw_mode().context("cannot put the terminal in raw mode (is stdin a terminal?)")?;
    let guard = TerminalGuard;
    execute!(stdout(), EnterAlternateScreen, Hide).context("cannot switch to the alternate screen")?;
    let terminal = Terminal::new(CrosstermBackend::new(stdout())).context("cannot start the terminal backend")?;
    Ok((terminal, guard))
}

/// Idempotent: safe from Drop, the panic hook and signal handling alike.
pub fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(stdout(), LeaveAlternateScreen, Show);
}

fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        previous(info);
    }));
}
