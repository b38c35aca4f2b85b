//! The OS user pgdeck acts as, named in the audit trail, Events and reports: from the effective
//! uid's passwd entry, not `$USER`, which is unset under cron and some CI runners and names
//! whoever set it, not who acts.

use nix::unistd::{geteuid, User};

/// The effective user's name; `uid N` when the passwd database has no entry for the uid.
pub fn os_user() -> String {
    let uid = geteuid();
    match User::from_uid(uid) {
        Ok(Some(user)) => user.name,
        Ok(None) | Err(_) => format!("uid {uid}"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_user_is_named_from_the_uid_whatever_user_says() {
        let name = super::os_user();
        assert!(!name.is_empty() && name != "unknown", "{name}");
        let uid = nix::unistd::geteuid();
        match nix::unistd::User::from_uid(uid).unwrap() {
            Some(user) => assert_eq!(name, user.name),
            None => assert_eq!(name, format!("uid {uid}")),
        }
    }
}
