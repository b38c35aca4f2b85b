//! The console's single owner: State, Ui, Dispatcher and Terminal live here, and only here.
//! Loop: select over keys, action outcomes/observations, the clock (or the replay's pace) and
//! signals; drain what is queued; draw only when something changed, at most every ~16 ms.
//! Every observation the State receives passes `absorb`, which is where a recording tees it.
//! However the console ends (ctrl-c, :q, SIGTERM, SIGHUP, SIGINT, an error), the terminal is given
//! back first; then the actions still running are waited for, each up to its own timeout, so that
//! their outcome reaches the audit trail (and the recording) after the console is gone.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, watch, Notify};

use crate::action::ActionOutcome;
use crate::audit::AuditLog;
use crate::clock;
use crate::command::Command;
use crate::dispatch::{Dispatcher, Pending};
use crate::observation::{Observation, ObservationKind, SourceId};
use crate::platform::Platform;
use crate::record::replay::Replay;
use crate::record::Recorder;
use crate::secrets::Revealed;
use crate::source::{self, Pacing};
use crate::spec::ThresholdsSpec;
use crate::state::State;
use crate::tui::keymap::{KeyContext, Keymap};
use crate::tui::targets::{self, Targets};
use crate::tui::theme::Theme;
use crate::tui::ui::{Effect, Ui};
use crate::tui::views;
use crate::tui::{clipboard, terminal};

const FRAME: Duration = Duration::from_millis(16);
/// Routine data (samples, the clock) redraws at most this often: a refresh round's sources
/// arrive spread over the second, and a frame each would cost CPU and terminal bytes for
/// nothing an operator can read. Keys, and data that changed the story (a new event: a role
/// change, a finding raised or cleared, an outcome), draw at once.
const DATA_FRAME: Duration = Duration::from_millis(500);
/// How long opening another target may hold the console (reading its files, its kubeconfig).
const TARGET_OPEN_TIMEOUT: Duration = Duration::from_secs(10);
const OBSERVATION_QUEUE: usize = 4096;
/// While a replay plays, how often its position moves on screen even with nothing due.
const REPLAY_PACE: Duration = Duration::from_millis(200);

pub struct Options {
    pub read_only: bool,
    pub refresh: Duration,
    pub source_timeout: Duration,
    pub thresholds: ThresholdsSpec,
    pub theme: Theme,
    pub keymap: Keymap,
    pub audit: AuditLog,
    pub user: String,
    /// Shown in Help: where the audit trail goes.
    pub audit_file: Option<String>,
    /// Shown on the status line at start (a replay's skipped lines).
    pub notice: Option<String>,
    /// The target watched first, and the others `:target NAME` may switch to (live only).
    pub target: Option<String>,
    pub targets: Option<Arc<dyn Targets>>,
}

/// What the console watches: a live cluster (optionally recorded), or a recording.
pub enum Session {
    Live { platform: Arc<dyn Platform>, recorder: Option<Recorder> },
    Replay(Replay),
}

/// Folds an observation into the State, teeing it to the recording first.
fn absorb(state: &mut State, recorder: Option<&Recorder>, observation: &Observation) {
    if let Some(recorder) = recorder {
        recorder.record(observation);
    }
    state.apply(observation);
}

#[allow(clippy::too_many_lines)] // one select loop; its arms are the console's whole behaviour
pub async fn run(session: Session, options: Options) -> Result<()> {
    let (observations_tx, mut observations) = mpsc::channel::<Observation>(OBSERVATION_QUEUE);
    let user = options.user.clone();
    let (interval_tx, interval_rx) = watch::channel(options.refresh);
    let poll_now = Arc::new(Notify::new());
    let pacing = Pacing { interval: interval_rx, poll_now: poll_now.clone() };
    let (mut platform, recorder, mut replay) = match session {
        Session::Live { platform, recorder } => (Some(platform), recorder, None),
        Session::Replay(replay) => (None, None, Some(replay)),
    };
    if let Some(platform) = &platform {
        for source in platform.sources() {
            source::spawn_loop(source, pacing.clone(), options.source_timeout, observations_tx.clone());
        }
    }
    // Revealed passwords come on their own channel, straight to the Ui: never an Observation.
    let (reveals_tx, mut reveals) = mpsc::channel::<Revealed>(1);
    // A replay's Dispatcher has no platform: every action is refused, visibly, whatever the keys.
    let mut dispatcher = Dispatcher::new(
        platform.clone(),
        options.read_only && platform.is_some(),
        options.audit,
        options.user,
        observations_tx.clone(),
    )
    .revealing_to(reveals_tx.clone());
    let mut state = replay.as_ref().map_or_else(|| State::new(options.thresholds), Replay::fresh_state);
    let mut ui = Ui::new(options.read_only || replay.is_some(), options.refresh);
    ui.audit_file = options.audit_file;
    ui.message = options.notice.map(|text| crate::tui::ui::Message { text, tone: crate::tui::ui::Tone::Error });
    ui.replay = replay.as_ref().map(Replay::status);
    ui.target.clone_from(&options.target);
    ui.recording = recorder.as_ref().map(|r| r.path().display().to_string());
    // Keys come from a thread: crossterm's read blocks, and the loop must never.
    let (keys_tx, mut keys) = mpsc::channel::<Event>(256);
    std::thread::spawn(move || {
        while let Ok(event) = crossterm::event::read() {
            if keys_tx.blocking_send(event).is_err() {
                break;
            }
        }
    });
    let mut signals = Signals {
        terminate: signal(SignalKind::terminate())?,
        hangup: signal(SignalKind::hangup())?,
        interrupt: signal(SignalKind::interrupt())?,
    };
    let mut clock_tick = tokio::time::interval(Duration::from_secs(1));
    let (mut terminal, guard) = terminal::enter()?;
    let mut frozen: Option<State> = None;
    // When something changed: the soonest a frame may show it, after the last one.
    let mut dirty: Option<Duration> = Some(FRAME);
    let mut last_draw = Instant::now().checked_sub(FRAME).unwrap_or_else(Instant::now);
    let mut last_replay_step = Instant::now();
    // How the console ended, for the audit trail should an action be abandoned.
    let ending: Result<&str> = 'console: loop {
        if dirty.is_some_and(|pace| last_draw.elapsed() >= pace) {
            let shown = frozen.as_ref().unwrap_or(&state);
            if let Err(e) = terminal.draw(|frame| views::render(frame, shown, &ui, &options.theme, &options.keymap)) {
                break 'console Err(e.into());
            }
            last_draw = Instant::now();
            dirty = None;
        }
        let next_frame = tokio::time::Instant::from_std(last_draw + dirty.unwrap_or(FRAME));
        let replay_due = replay.as_ref().and_then(Replay::next_due).map(|due| due.min(REPLAY_PACE));
        let replay_wake = tokio::time::Instant::now() + replay_due.unwrap_or(REPLAY_PACE);
        tokio::select! {
            biased;
            Some(event) = keys.recv() => {
                let effects = handle_event(&event, &mut ui, frozen.as_ref().unwrap_or(&state), &options.keymap);
                for effect in effects {
                    match effect {
                        Effect::Quit => break 'console Ok("quit"),
                        Effect::FullRedraw => {
                            if let Err(e) = terminal.clear() {
                                break 'console Err(e.into());
                            }
                        }
                        Effect::Copy(text) => {
                            use std::io::Write as _;
                            let mut out = std::io::stdout();
                            if let Err(e) = out.write_all(clipboard::osc52(&text).as_bytes()).and_then(|()| out.flush()) {
                                break 'console Err(e.into());
                            }
                        }
                        Effect::RefreshNow => poll_now.notify_waiters(),
                        Effect::SetRefresh(interval) => { let _ = interval_tx.send(interval); }
                        Effect::FreezeDisplay(on) => frozen = on.then(|| state.clone()),
                        Effect::Prepare(action) => match &platform {
                            // What cannot succeed is refused (and audited) before anything is typed.
                            Some(platform) => {
                                if let Err(refusal) = dispatcher.precheck(&action, &state) {
                                    ui.on_refusal(&refusal);
                                } else {
                                    let preview = platform.describe(&action, state.leader_name());
                                    ui.open_confirmation(&state, action, preview);
                                }
                            }
                            // Nothing to ask: the Dispatcher refuses and says why.
                            None => match dispatcher.submit(action, None, &state) {
                                Ok(request) => ui.on_accepted(&request.action),
                                Err(refusal) => ui.on_refusal(&refusal),
                            },
                        },
                        Effect::Dispatch { action, confirmation } => {
                            match dispatcher.submit(action, confirmation, &state) {
                                Ok(request) => ui.on_accepted(&request.action),
                                Err(refusal) => ui.on_refusal(&refusal),
                            }
                        }
                        Effect::Cancelled(action) => dispatcher.cancelled(&action),
                        Effect::SwitchTarget(None) => {
                            let names = options.targets.as_ref().map(|t| t.names()).unwrap_or_default();
                            ui.info(&targets::listing(&names, ui.target.as_deref()));
                        }
                        Effect::SwitchTarget(Some(name)) => {
                            let refused = switch_refused(replay.is_some(), recorder.is_some(), &mut dispatcher, &ui, &name);
                            let opened = match (refused, &options.targets) {
                                (Some(why), _) => Err(why),
                                (None, None) => Err("this console has no targets to switch to".to_owned()),
                                (None, Some(targets)) => open_target(targets.as_ref(), &name).await,
                            };
                            match opened {
                                Ok(opened) => {
                                    let (tx, rx) = mpsc::channel::<Observation>(OBSERVATION_QUEUE);
                                    for source in opened.platform.sources() {
                                        source::spawn_loop(source, pacing.clone(), options.source_timeout, tx.clone());
                                    }
                                    // The old sources end at their next send, into a queue no one reads.
                                    observations = rx;
                                    dispatcher = Dispatcher::new(Some(opened.platform.clone()), options.read_only, opened.audit, user.clone(), tx)
                                        .revealing_to(reveals_tx.clone());
                                    state = State::new(opened.thresholds);
                                    frozen = None;
                                    ui.switched_to(&opened.name, &opened.platform.identity());
                                    platform = Some(opened.platform);
                                }
                                Err(why) => ui.error(&why),
                            }
                        }
                        Effect::Replay(control) => {
                            if let Some(replay) = &mut replay {
                                replay.control(control, &mut state);
                                ui.replay = Some(replay.status());
                                last_replay_step = Instant::now();
                            }
                        }
                    }
                }
                dirty = Some(FRAME);
            }
            Some(observation) = observations.recv() => {
                let story = story_so_far(&state);
                let finished = matches!(observation.kind, ObservationKind::ActionFinished { .. });
                absorb(&mut state, recorder.as_ref(), &observation);
                // Drain what is already queued so a burst costs one frame.
                while let Ok(more) = observations.try_recv() {
                    absorb(&mut state, recorder.as_ref(), &more);
                }
                if finished {
                    // What an action changed (a backup taken, a leader moved) shows without waiting
                    // for the slower sources' next round.
                    poll_now.notify_waiters();
                }
                let pace = if story_so_far(&state) == story { DATA_FRAME } else { FRAME };
                dirty = Some(dirty.map_or(pace, |d| d.min(pace)));
            }
            Some(revealed) = reveals.recv() => {
                ui.show_revealed(revealed, Instant::now());
                dirty = Some(FRAME);
            }
            _ = clock_tick.tick(), if replay.is_none() => {
                absorb(&mut state, recorder.as_ref(), &Observation::new(clock::now(), SourceId::Clock, ObservationKind::Tick));
                ui.expire_revealed(Instant::now());
                dirty = Some(dirty.map_or(DATA_FRAME, |d| d.min(DATA_FRAME)));
            }
            () = tokio::time::sleep_until(replay_wake), if replay.as_ref().is_some_and(|r| !r.paused()) => {
                if let Some(replay) = &mut replay {
                    replay.advance(last_replay_step.elapsed(), &mut state);
                    ui.replay = Some(replay.status());
                }
                last_replay_step = Instant::now();
                dirty = Some(FRAME);
            }
            _ = signals.terminate.recv() => break 'console Ok("SIGTERM"),
            _ = signals.hangup.recv() => break 'console Ok("SIGHUP: the terminal closed"),
            _ = signals.interrupt.recv() => break 'console Ok("SIGINT"),
            () = tokio::time::sleep_until(next_frame), if dirty.is_some() => {}
        }
        if replay.as_ref().is_some_and(Replay::paused) {
            // Paused time does not count once play resumes.
            last_replay_step = Instant::now();
        }
    };
    drop(terminal);
    drop(guard);
    let how = ending.as_ref().map_or("an error", |how| *how);
    let mut queue = Queue { observations: &mut observations, state: &mut state, recorder: recorder.as_ref() };
    let waited = wait_for_outcomes(&mut dispatcher, &mut queue, &mut signals, how).await;
    ending.and(waited)
}

/// The last event and the leader: when a batch of observations changes either, it is news
/// worth a frame now rather than at the next routine one.
fn story_so_far(state: &State) -> (usize, Option<chrono::DateTime<chrono::Utc>>, Option<String>) {
    (state.events.len(), state.events.back().map(|e| e.at), state.leader_name().map(str::to_owned))
}

/// Why the console cannot switch targets now, if it cannot.
fn switch_refused(
    replaying: bool,
    recording: bool,
    dispatcher: &mut Dispatcher,
    ui: &Ui,
    name: &str,
) -> Option<String> {
    if replaying {
        return Some("a replay shows its recording's target only".into());
    }
    if ui.target.as_deref() == Some(name) {
        return Some(format!("already watching {name}"));
    }
    if recording {
        return Some(format!(
            "this session is being recorded, and a recording holds one target: restart pgdeck with --target {name}"
        ));
    }
    // Their outcomes belong to this target's State and audit trail.
    dispatcher.pending().first().map(|p| {
        format!("{} (request {}) is still running here; switch once it has finished", p.request.action, p.request.id)
    })
}

/// Opens `name`, or says why not; a target that takes long to open is given up on, not waited for.
async fn open_target(targets: &dyn Targets, name: &str) -> Result<targets::Opened, String> {
    match tokio::time::timeout(TARGET_OPEN_TIMEOUT, targets.open(name)).await {
        Ok(Ok(opened)) => Ok(opened),
        Ok(Err(e)) => Err(format!("cannot watch {name}: {e:#}")),
        Err(_) => Err(format!("cannot watch {name}: it did not open within {}s", TARGET_OPEN_TIMEOUT.as_secs())),
    }
}

struct Signals {
    terminate: tokio::signal::unix::Signal,
    hangup: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
}

/// The observation queue, still folded (and recorded) while the console waits for outcomes.
struct Queue<'a> {
    observations: &'a mut mpsc::Receiver<Observation>,
    state: &'a mut State,
    recorder: Option<&'a Recorder>,
}

/// After the terminal is given back: waits for every action still running to report its outcome,
/// each up to its own timeout, saying on stderr what it waits for. Ctrl-C or SIGTERM gives up
/// waiting; the audit trail then records each one left as abandoned, its outcome unknown. A
/// hangup changes nothing: the terminal is gone, and the outcome is still worth recording.
async fn wait_for_outcomes(
    dispatcher: &mut Dispatcher,
    queue: &mut Queue<'_>,
    signals: &mut Signals,
    how: &str,
) -> Result<()> {
    let pending = dispatcher.pending();
    if pending.is_empty() {
        return Ok(());
    }
    for Pending { request, left } in &pending {
        say(&format!(
            "waiting for {} (request {}) to finish, at most {}s more; press ctrl-c to stop waiting (its outcome is then unknown)",
            request.action,
            request.id,
            left.as_secs()
        ));
    }
    // Each task reports its own timeout; this is only a backstop should one never report.
    let backstop = dispatcher.last_deadline().unwrap_or_else(tokio::time::Instant::now) + Duration::from_secs(5);
    let gave_up = loop {
        if dispatcher.pending().is_empty() {
            return Ok(());
        }
        tokio::select! {
            Some(observation) = queue.observations.recv() => {
                if let ObservationKind::ActionFinished { request, outcome } = &observation.kind {
                    say(&format!("{} (request {}): {}", request.action, request.id, describe(outcome)));
                }
                absorb(queue.state, queue.recorder, &observation);
            }
            _ = signals.interrupt.recv() => break "ctrl-c while waiting",
            _ = signals.terminate.recv() => break "SIGTERM while waiting",
            _ = signals.hangup.recv() => {}
            () = tokio::time::sleep_until(backstop) => break "no outcome within its timeout",
        }
    };
    let reason = format!(
        "outcome unknown: the console ended ({how}) and pgdeck stopped waiting for the action ({gave_up}); \
         it may have completed, failed or stopped part-way: check the cluster"
    );
    let abandoned = dispatcher.abandon_all(&reason);
    if abandoned.is_empty() {
        return Ok(()); // the last outcome came in as pgdeck gave up
    }
    for request in &abandoned {
        say(&format!(
            "gave up on {} (request {}); the audit trail records it as abandoned",
            request.action, request.id
        ));
    }
    bail!(
        "stopped waiting for {} action(s) still running; their outcome is unknown: check the cluster",
        abandoned.len()
    )
}

fn describe(outcome: &ActionOutcome) -> String {
    match outcome {
        ActionOutcome::Succeeded { detail } => format!("succeeded: {detail}"),
        ActionOutcome::Failed { error } => format!("FAILED: {error}"),
    }
}

/// A line for the operator once the console is gone. A closed terminal is not an error here.
fn say(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "pgdeck: {line}");
}

/// A terminal event becomes Ui effects: resizes redraw, keys resolve through the keymap, and
/// unbound printable keys are typed into an open input (or, asked whether to quit, stay).
fn handle_event(event: &Event, ui: &mut Ui, state: &State, keymap: &Keymap) -> Vec<Effect> {
    let Event::Key(key) = event else { return Vec::new() };
    if key.kind == KeyEventKind::Release {
        return Vec::new();
    }
    let context = ui.context();
    let command = keymap.resolve(key, context);
    // Any key takes a revealed password off the screen, and does nothing else (but quit).
    if ui.hide_revealed() && command != Some(Command::Quit) {
        return Vec::new();
    }
    if let Some(command) = command {
        return ui.update(state, command);
    }
    match context {
        KeyContext::Input => type_into(ui, key),
        KeyContext::Form => ui.form_key(*key),
        // Asked whether to quit, any key but the answer's stays.
        KeyContext::QuitDialog => return ui.update(state, Command::Back),
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

#[cfg(test)]
mod tests {
    use crossterm::event::KeyModifiers;

    use super::*;
    use crate::command::ViewId;
    use crate::spec::ThresholdsSpec;

    fn key(code: KeyCode) -> Event {
        Event::Key(KeyEvent::new(code, KeyModifiers::NONE))
    }

    /// Keys as the terminal sends them, through the keymap and the Ui, to the Effects the loop runs.
    #[test]
    fn q_on_the_overview_asks_y_or_enter_quits_and_any_other_key_stays() {
        let state = State::new(ThresholdsSpec::default());
        for base in [crate::tui::keymap::KeymapBase::Default, crate::tui::keymap::KeymapBase::Vim] {
            let keymap = Keymap::builtin(base);
            let mut ui = Ui::new(false, Duration::from_secs(1));
            let mut press = |code| handle_event(&key(code), &mut ui, &state, &keymap);
            for yes in [KeyCode::Char('y'), KeyCode::Enter] {
                assert!(press(KeyCode::Char('q')).is_empty());
                assert_eq!(press(yes), vec![Effect::Quit], "{base:?} {yes:?}");
            }
            for no in [KeyCode::Char('x'), KeyCode::Char('q'), KeyCode::Esc, KeyCode::Char('n'), KeyCode::F(5)] {
                assert!(press(KeyCode::Char('q')).is_empty());
                assert!(press(no).is_empty(), "{base:?} {no:?}");
                // Closed: j moves the selection again rather than answering.
                assert!(press(KeyCode::Char('j')).is_empty());
            }
            assert!(!ui.asking_to_quit);
            assert_eq!(ui.view, ViewId::Overview);
            // Elsewhere q goes back as before, and ctrl-c quits at once anywhere.
            ui.view = ViewId::Backups;
            let mut press = |code| handle_event(&key(code), &mut ui, &state, &keymap);
            assert!(press(KeyCode::Char('q')).is_empty());
            let ctrl_c = Event::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
            assert_eq!(handle_event(&ctrl_c, &mut ui, &state, &keymap), vec![Effect::Quit]);
            assert!(!ui.asking_to_quit);
        }
    }
}
