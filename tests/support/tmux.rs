//! The real binary in a real terminal: a private tmux server, send-keys and capture-pane.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// Starts `program args…` in a detached session of `width` x `height`, with `env` set.
    pub fn start(program: &Path, args: &[&str], env: &[(&str, &str)], width: u16, height: u16) -> Self {
        // A server of its own per session: a new one on a name still being torn down misreports.
        static SESSIONS: AtomicUsize = AtomicUsize::new(0);
        let socket = format!("pgdeck-test-{}-{}", std::process::id(), SESSIONS.fetch_add(1, Ordering::SeqCst));
        let mut command = vec![String::from("env")];
        command.extend(env.iter().map(|(k, v)| format!("{k}={v}")));
        command.push(program.display().to_string());
        command.extend(args.iter().map(|a| (*a).to_owned()));
        let status = Command::new("tmux")
            .args(["-L", &socket, "-f", "/dev/null", "new-session", "-d", "-s", "pgdeck"])
            .args(["-x", &width.to_string(), "-y", &height.to_string()])
            .arg(shell_words(&command))
            .status()
            .expect("tmux runs");
        assert!(status.success(), "tmux new-session failed");
        // Keep the pane after the program exits so its last screen can be read.
        let _ = Command::new("tmux").args(["-L", &socket, "set-option", "-g", "remain-on-exit", "on"]).status();
        Self { socket }
    }

    /// Resizes the window, as a terminal emulator would: the program gets SIGWINCH.
    pub fn resize(&self, width: u16, height: u16) {
        let status = Command::new("tmux")
            .args(["-L", &self.socket, "resize-window", "-t", "pgdeck"])
            .args(["-x", &width.to_string(), "-y", &height.to_string()])
            .status()
            .expect("tmux");
        assert!(status.success(), "tmux resize-window failed");
    }

    pub fn capture(&self) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p", "-t", "pgdeck"])
            .output()
            .expect("tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Sends keys in tmux's notation (`B`, `Enter`, `Escape`, `C-c`, `j`).
    pub fn keys(&self, keys: &[&str]) {
        let status = Command::new("tmux")
            .args(["-L", &self.socket, "send-keys", "-t", "pgdeck"])
            .args(keys)
            .status()
            .expect("tmux");
        assert!(status.success());
    }

    /// Literal text, each character a key press.
    pub fn type_text(&self, text: &str) {
        let status = Command::new("tmux")
            .args(["-L", &self.socket, "send-keys", "-t", "pgdeck", "-l", text])
            .status()
            .expect("tmux");
        assert!(status.success());
    }

    /// Waits until the screen satisfies `check`; panics with the last screen after `timeout`.
    pub fn wait_for(&self, what: &str, timeout: Duration, check: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let screen = self.capture();
            if check(&screen) {
                return screen;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}; the screen:\n{screen}");
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Lets the program set tmux's paste buffer with OSC 52.
    pub fn set_clipboard_on(&self) {
        let status = Command::new("tmux")
            .args(["-L", &self.socket, "set-option", "-s", "set-clipboard", "on"])
            .status()
            .expect("tmux");
        assert!(status.success());
    }

    /// The newest paste buffer, waiting for one to appear.
    pub fn wait_for_buffer(&self, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let out = Command::new("tmux").args(["-L", &self.socket, "show-buffer"]).output().expect("tmux");
            if out.status.success() {
                return String::from_utf8_lossy(&out.stdout).into_owned();
            }
            assert!(Instant::now() < deadline, "no paste buffer appeared");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A tmux format variable of the pane, e.g. `pane_pid`, `alternate_on`, `pane_dead_status`.
    pub fn pane_var(&self, name: &str) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "display-message", "-p", "-t", "pgdeck", &format!("#{{{name}}}")])
            .output()
            .expect("tmux");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    pub fn pane_dead(&self) -> bool {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "display-message", "-p", "-t", "pgdeck", "#{pane_dead}"])
            .output()
            .expect("tmux");
        String::from_utf8_lossy(&out.stdout).trim() == "1"
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["-L", &self.socket, "kill-server"]).status();
    }
}

fn shell_words(words: &[String]) -> String {
    words.iter().map(|w| format!("'{}'", w.replace('\'', "'\\''"))).collect::<Vec<_>>().join(" ")
}
