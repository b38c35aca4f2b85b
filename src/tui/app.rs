//! The console's single owner: State, Ui, Dispatcher and Terminal live here, and only here.
//! Loop: select over keys, action outcomes/observations, the clock and signals; drain what is
//! queued; draw only when something changed, at most every ~16 ms.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, watch, Notify};

use crate::audit::AuditLog;
use crate::clock;
use crate::dispatch::Dispatcher;
use crate::observation::{Observation, ObservationKind};
use crate::platform::Platform;
use crate::source::{self, Pacing};
use crate::spec::ThresholdsSpec;
use crate::state::State;
use crate::tui::keymap::{KeyContext, Keymap};
use crate::tui::theme::Theme;
use crate::tui::ui::{Effect, Ui};
use crate::tui::views;
use crate::tui::{clipboard, terminal};

const FRAME: Duration = Duration::from_millis(16);
const OBSERVATION_QUEUE: usize = 4096;

pub struct Options {
    pub read_only: bool,
    pub refresh: Duration,
    pub source_timeout: Duration,
    pub thresholds: ThresholdsSpec,
    pub theme: Theme,
    pub keymap: Keymap,
    pub audit: AuditLog,
    pub user: String,
}

pub async fn run(platform: Arc<dyn Platform>, options: Options) -> Result<()> {
    let (observations_tx, mut observations) = mpsc::channel::<Observation>(OBSERVATION_QUEUE);
    let (interval_tx, interval_rx) = watch::channel(options.refresh);
    let poll_now = Arc::new(Notify::new());
    let pacing = Pacing { interval: interval_rx, poll_now: poll_now.clone() };
    for source in platform.sources() {
        source::spawn_loop(source, pacing.clone(), options.source_timeout, observations_tx.clone());
    }
    let mut dispatcher = Dispatcher::new(
        Some(platform.clone()),
        options.read_only,
        options.audit,
        options.user,
        observations_tx.clone(),
    );
    let mut state = State::new(options.thresholds);
    let mut ui = Ui::new(options.read_only, options.refresh);
    // Keys come from a thread: crossterm's read blocks, and the loop must never.
    let (keys_tx, mut keys) = mpsc::channel::<Event>(256);
    std::thread::spawn(move || {
        while let Ok(event) = crossterm::event::read() {
            if keys_tx.blocking_send(event).is_err() {
                break;
            }
        }
    });
    let mut terminate = signal(SignalKind::terminate())?;
    let mut hangup = signal(SignalKind::hangup())?;
    let mut clock_tick = tokio::time::interval(Duration::from_secs(1));
    let (mut terminal, _guard) = terminal::enter()?;
    let mut frozen: Option<State> = None;
    let mut dirty = true;
    let mut last_draw = Instant::now().checked_sub(FRAME).unwrap_or_else(Instant::now);
    loop {
        if dirty && last_draw.elapsed() >= FRAME {
            let shown = frozen.as_ref().unwrap_or(&state);
            terminal.draw(|frame| views::render(frame, shown, &ui, &options.theme, &options.keymap))?;
            last_draw = Instant::now();
            dirty = false;
        }
        let next_frame = tokio::time::Instant::from_std(last_draw + FRAME);
        tokio::select! {
            biased;
            Some(event) = keys.recv() => {
                let effects = handle_event(&event, &mut ui, frozen.as_ref().unwrap_or(&state), &options.keymap);
                for effect in effects {
                    match effect {
                        Effect::Quit => return Ok(()),
                        Effect::FullRedraw => terminal.clear()?,
                        Effect::Copy(text) => {
                            use std::io::Write as _;
                            let mut out = std::io::stdout();
                            out.write_all(clipboard::osc52(&text).as_bytes())?;
                            out.flush()?;
                        }
                        Effect::RefreshNow => poll_now.notify_waiters(),
                        Effect::SetRefresh(interval) => { let _ = interval_tx.send(interval); }
                        Effect::FreezeDisplay(on) => frozen = on.then(|| state.clone()),
                        Effect::Prepare(action) => {
                            let preview = platform.describe(&action, state.leader_name());
                            ui.open_confirmation(&state, action, preview);
                        }
                        Effect::Dispatch { action, confirmation } => {
                            match dispatcher.submit(action, confirmation, &state) {
                                Ok(request) => ui.on_accepted(&request.action),
                                Err(refusal) => ui.on_refusal(&refusal),
                            }
                        }
                    }
                }
                dirty = true;
            }
            Some(observation) = observations.recv() => {
                state.apply(&observation);
                // Drain what is already queued so a burst costs one frame.
                while let Ok(more) = observations.try_recv() {
                    state.apply(&more);
                }
                dirty = true;
            }
            _ = clock_tick.tick() => {
                state.apply(&Observation::new(clock::now(), "clock", ObservationKind::Tick));
                dirty = true;
            }
            _ = terminate.recv() => return Ok(()),
            _ = hangup.recv() => return Ok(()),
            () = tokio::time::sleep_until(next_frame), if dirty => {}
        }
    }
}

/// A terminal event becomes Ui effects: resizes redraw, keys resolve through the keymap, and
/// unbound printable keys are typed into an open input.
fn handle_event(event: &Event, ui: &mut Ui, state: &State, keymap: &Keymap) -> Vec<Effect> {
    let Event::Key(key) = event else { return Vec::new() };
    if key.kind == KeyEventKind::Release {
        return Vec::new();
    }
    let context = ui.context();
    if let Some(command) = keymap.resolve(key, context) {
        return ui.update(state, command);
    }
    match context {
        KeyContext::Input => type_into(ui, key),
        KeyContext::Form => ui.form_key(*key),
        KeyContext::Global | KeyContext::Normal | KeyContext::Modal => {}
    }
    Vec::new()
}

fn type_into(ui: &mut Ui, key: &KeyEvent) {
    match key.code {
        KeyCode::Char(c) if !key.modifiers.contains(crossterm::event::KeyModifiers::CONTROL) => ui.type_char(c),
        KeyCode::Backspace => ui.delete_char(),
        _ => {}
    }
}
