//! The Ui's action keys: which Action a mutating key means from what is selected, and which form
//! opens for one that needs parameters. Read-only sends each to the Dispatcher as it stands, to
//! be refused and audited there.

use crate::action::{Action, BackupKind};
use crate::command::{Command, ViewId};
use crate::model::Role;
use crate::state::State;
use crate::tui::form::{Form, FormKind};
use crate::tui::ui::{Effect, Ui};

impl Ui {
    /// A mutating key: read-only sends it straight to the Dispatcher (which refuses and audits);
    /// otherwise the platform is asked what it will do and a confirmation opens.
    pub(super) fn mutation(&mut self, state: &State, command: Command) -> Vec<Effect> {
        let action = match command {
            Command::Switchover | Command::Failover => {
                let Some(member) = self.selected_replica(state) else {
                    self.error("select a replica first (in Overview or Replication, with j/k)");
                    return Vec::new();
                };
                if command == Command::Switchover {
                    Action::Switchover { candidate: Some(member) }
                } else {
                    Action::Failover { candidate: member }
                }
            }
            Command::CancelBackend | Command::TerminateBackend => {
                let (member, rows) = crate::tui::views::activity::visible_rows(state, self);
                let on_activity = self.view == ViewId::Activity;
                let Some((_, backend)) = rows.get(self.selected(ViewId::Activity)).filter(|_| on_activity) else {
                    self.error("select a session first (in Activity, with j/k)");
                    return Vec::new();
                };
                let pid = backend.pid;
                if command == Command::CancelBackend {
                    Action::CancelBackend { member, pid }
                } else {
                    Action::TerminateBackend { member, pid }
                }
            }
            _ => Action::Backup { kind: BackupKind::Full },
        };
        if self.read_only {
            return vec![Effect::Dispatch { action, confirmation: None }];
        }
        vec![Effect::Prepare(action)]
    }

    /// A mutation that needs parameters opens its form; read-only sends it to the Dispatcher as
    /// it stands, to be refused and audited without asking for input that could not be used.
    pub(super) fn open_form(&mut self, state: &State, command: Command) -> Vec<Effect> {
        let form = match command {
            Command::Restore => {
                let Some(backup) = self.selected_backup(state) else {
                    self.error("select a completed backup first (in Backups, with j/k)");
                    return Vec::new();
                };
                Form::restore(&backup)
            }
            Command::CreateUser => {
                let on_databases = self.view == ViewId::Databases;
                let databases = crate::tui::views::databases::visible_databases(state, self);
                let selected = databases.get(self.selected(ViewId::Databases)).filter(|_| on_databases);
                Form::create_user(selected.map(|d| d.name.as_str()))
            }
            Command::RotatePassword => Form::rotate_password(),
            Command::RevealPassword => Form::reveal_password(),
            _ => Form::create_database(),
        };
        if self.read_only {
            let action = match form.kind {
                FormKind::Restore { backup } => {
                    Action::Restore { backup, target_time: None, new_cluster: String::new() }
                }
                FormKind::CreateUser => Action::CreateUser { name: String::new(), database: String::new() },
                FormKind::CreateDatabase => Action::CreateDatabase { name: String::new(), owner: String::new() },
                FormKind::RotatePassword => Action::RotatePassword { user: String::new() },
                FormKind::RevealPassword => Action::RevealPassword { user: String::new() },
            };
            return vec![Effect::Dispatch { action, confirmation: None }];
        }
        self.form = Some(form);
        Vec::new()
    }

    /// The completed backup under the cursor in Backups (newest first, as listed).
    fn selected_backup(&self, state: &State) -> Option<String> {
        if self.view != ViewId::Backups {
            return None;
        }
        let backups = &state.backups.as_ref()?.value.backups;
        let chosen = backups.iter().rev().filter(|b| self.matches(&b.id)).nth(self.selected(ViewId::Backups))?;
        (chosen.status == crate::model::BackupStatus::Completed).then(|| chosen.id.clone())
    }

    /// The replica under the cursor in views that list members.
    fn selected_replica(&self, state: &State) -> Option<String> {
        let members = state.member_views();
        let member = match self.view {
            ViewId::Overview | ViewId::Storage => members.get(self.selected(self.view))?,
            ViewId::Replication => {
                let replicas: Vec<_> = members.iter().filter(|m| m.role != Role::Primary).collect();
                *replicas.get(self.selected(self.view))?
            }
            _ => return None,
        };
        (member.role == Role::Replica).then(|| member.name.clone())
    }
}
