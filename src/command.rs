//! Command: what a key means to the UI. Keymaps bind keys to these by their kebab-case names.

use std::fmt;

/// The console's views, each reachable by one key and from the `:` command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ViewId {
    Overview,
    Replication,
    Storage,
    Backups,
    Statements,
    Activity,
    Databases,
    Events,
    Help,
}

impl ViewId {
    /// The views in Tab order (Help is reached by `?`, not by Tab).
    pub const CYCLE: [ViewId; 8] = [
        ViewId::Overview,
        ViewId::Replication,
        ViewId::Storage,
        ViewId::Backups,
        ViewId::Statements,
        ViewId::Activity,
        ViewId::Databases,
        ViewId::Events,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ViewId::Overview => "overview",
            ViewId::Replication => "replication",
            ViewId::Storage => "storage",
            ViewId::Backups => "backups",
            ViewId::Statements => "statements",
            ViewId::Activity => "activity",
            ViewId::Databases => "databases",
            ViewId::Events => "events",
            ViewId::Help => "help",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            ViewId::Overview => "Overview",
            ViewId::Replication => "Replication",
            ViewId::Storage => "Storage",
            ViewId::Backups => "Backups",
            ViewId::Statements => "Top queries",
            ViewId::Activity => "Activity",
            ViewId::Databases => "Databases & roles",
            ViewId::Events => "Events",
            ViewId::Help => "Help",
        }
    }

    /// For the tab line on a narrow terminal.
    pub fn short_title(self) -> &'static str {
        match self {
            ViewId::Replication => "Repl",
            ViewId::Statements => "Queries",
            ViewId::Databases => "DBs",
            other => other.title(),
        }
    }

    pub fn from_name(name: &str) -> Option<ViewId> {
        ViewId::CYCLE.into_iter().chain([ViewId::Help]).find(|v| v.name() == name)
    }
}

/// A UI imperative. Mutating commands only open a confirmation; the Dispatcher does the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    Quit,
    /// Close the dialog, clear the filter, or leave Help; never quits.
    Back,
    Help,
    CommandLine,
    Filter,
    Up,
    Down,
    Top,
    Bottom,
    PageUp,
    PageDown,
    NextView,
    PreviousView,
    ShowView(ViewId),
    RefreshNow,
    RefreshFaster,
    RefreshSlower,
    PauseDisplay,
    Redraw,
    /// Sort the table by its next column; reverse the order.
    SortNext,
    SortReverse,
    /// Show the workload views for the next member (the leader by default).
    NextMember,
    /// Copy the selected query or object to the clipboard (OSC 52).
    Copy,
    /// Enter: confirm a dialog or submit an input line.
    Submit,
    // Mutating: each opens a dialog that holds the Action until it is confirmed.
    Switchover,
    Failover,
    Backup,
    CancelBackend,
    TerminateBackend,
    Restore,
    CreateDatabase,
    CreateUser,
    RotatePassword,
    /// Show a login role's stored password, once; guarded and audited like a mutation.
    RevealPassword,
    /// Move between a form's fields.
    NextField,
    PreviousField,
    // Replay only: the recorded session's position and pace.
    ReplayPause,
    ReplayFaster,
    ReplaySlower,
    ReplayStep,
    /// Open the command line at `seek ` to type a time.
    ReplaySeek,
    ReplayNextRoleChange,
    ReplayNextFinding,
    ReplayNextAction,
}

impl Command {
    /// Every command, for keymap validation and the help screen.
    pub const ALL: [Command; 52] = [
        Command::Quit,
        Command::Back,
        Command::Help,
        Command::CommandLine,
        Command::Filter,
        Command::Up,
        Command::Down,
        Command::Top,
        Command::Bottom,
        Command::PageUp,
        Command::PageDown,
        Command::NextView,
        Command::PreviousView,
        Command::ShowView(ViewId::Overview),
        Command::ShowView(ViewId::Replication),
        Command::ShowView(ViewId::Storage),
        Command::ShowView(ViewId::Backups),
        Command::ShowView(ViewId::Statements),
        Command::ShowView(ViewId::Activity),
        Command::ShowView(ViewId::Databases),
        Command::ShowView(ViewId::Events),
        Command::RefreshNow,
        Command::RefreshFaster,
        Command::RefreshSlower,
        Command::PauseDisplay,
        Command::Redraw,
        Command::SortNext,
        Command::SortReverse,
        Command::NextMember,
        Command::Copy,
        Command::Submit,
        Command::Switchover,
        Command::Failover,
        Command::Backup,
        Command::CancelBackend,
        Command::TerminateBackend,
        Command::Restore,
        Command::CreateDatabase,
        Command::CreateUser,
        Command::RotatePassword,
        Command::RevealPassword,
        Command::NextField,
        Command::PreviousField,
        Command::ShowView(ViewId::Help),
        Command::ReplayPause,
        Command::ReplayFaster,
        Command::ReplaySlower,
        Command::ReplayStep,
        Command::ReplaySeek,
        Command::ReplayNextRoleChange,
        Command::ReplayNextFinding,
        Command::ReplayNextAction,
    ];

    /// The kebab-case name keymaps use.
    pub fn name(self) -> &'static str {
        match self {
            Command::Quit => "quit",
            Command::Back => "back",
            Command::Help => "help",
            Command::CommandLine => "command-line",
            Command::Filter => "filter",
            Command::Up => "up",
            Command::Down => "down",
            Command::Top => "top",
            Command::Bottom => "bottom",
            Command::PageUp => "page-up",
            Command::PageDown => "page-down",
            Command::NextView => "next-view",
            Command::PreviousView => "previous-view",
            Command::ShowView(ViewId::Overview) => "view-overview",
            Command::ShowView(ViewId::Replication) => "view-replication",
            Command::ShowView(ViewId::Storage) => "view-storage",
            Command::ShowView(ViewId::Backups) => "view-backups",
            Command::ShowView(ViewId::Statements) => "view-statements",
            Command::ShowView(ViewId::Activity) => "view-activity",
            Command::ShowView(ViewId::Databases) => "view-databases",
            Command::ShowView(ViewId::Events) => "view-events",
            Command::ShowView(ViewId::Help) => "view-help",
            Command::RefreshNow => "refresh-now",
            Command::RefreshFaster => "refresh-faster",
            Command::RefreshSlower => "refresh-slower",
            Command::PauseDisplay => "pause-display",
            Command::Redraw => "redraw",
            Command::SortNext => "sort-next",
            Command::SortReverse => "sort-reverse",
            Command::NextMember => "next-member",
            Command::Copy => "copy",
            Command::Submit => "submit",
            Command::Switchover => "switchover",
            Command::Failover => "failover",
            Command::Backup => "backup",
            Command::CancelBackend => "cancel-backend",
            Command::TerminateBackend => "terminate-backend",
            Command::Restore => "restore",
            Command::CreateDatabase => "create-database",
            Command::CreateUser => "create-user",
            Command::RotatePassword => "rotate-password",
            Command::RevealPassword => "reveal-password",
            Command::NextField => "next-field",
            Command::PreviousField => "previous-field",
            Command::ReplayPause => "replay-pause",
            Command::ReplayFaster => "replay-faster",
            Command::ReplaySlower => "replay-slower",
            Command::ReplayStep => "replay-step",
            Command::ReplaySeek => "replay-seek",
            Command::ReplayNextRoleChange => "replay-next-role-change",
            Command::ReplayNextFinding => "replay-next-finding",
            Command::ReplayNextAction => "replay-next-action",
        }
    }

    pub fn from_name(name: &str) -> Option<Command> {
        Command::ALL.into_iter().find(|c| c.name() == name)
    }

    /// Whether the command leads to a cluster mutation, or puts a secret on screen (both hidden
    /// in read-only mode, and refused there by the Dispatcher).
    pub fn is_mutating(self) -> bool {
        matches!(
            self,
            Command::Switchover
                | Command::Failover
                | Command::Backup
                | Command::CancelBackend
                | Command::TerminateBackend
                | Command::Restore
                | Command::CreateDatabase
                | Command::CreateUser
                | Command::RotatePassword
                | Command::RevealPassword
        )
    }
}

impl Command {
    /// Whether the command drives a replay (hidden outside one).
    pub fn is_replay(self) -> bool {
        matches!(
            self,
            Command::ReplayPause
                | Command::ReplayFaster
                | Command::ReplaySlower
                | Command::ReplayStep
                | Command::ReplaySeek
                | Command::ReplayNextRoleChange
                | Command::ReplayNextFinding
                | Command::ReplayNextAction
        )
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut names: Vec<&str> = Command::ALL.iter().map(|c| c.name()).collect();
        for c in Command::ALL {
            assert_eq!(Command::from_name(c.name()), Some(c));
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Command::ALL.len());
        assert_eq!(Command::from_name("no-such-command"), None);
    }
}
