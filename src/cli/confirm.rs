//! `local down --purge` deletes the local cluster's data: like every destructive action, it
//! wants the cluster's name typed, at the terminal or with `--confirm NAME`. Without a terminal
//! to ask on and without `--confirm`, it refuses and says how to confirm; it never deletes
//! unasked.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use anyhow::{bail, Result};

use crate::platform::patroni::local::layout::{ClusterFile, Layout};

/// Where an unconfirmed purge may ask for the name: the terminal's input and where the question goes.
pub struct Terminal<'a> {
    pub input: &'a mut dyn BufRead,
    pub output: &'a mut dyn Write,
}

/// Confirms the purge of the cluster in `layout` before anything is stopped: by `given`
/// (`--confirm`), else by asking on stdin when it is a terminal. `dir` is `--dir` as given, for
/// the command the refusal suggests. A directory without a cluster needs no confirmation:
/// `local down` deletes nothing there.
pub fn confirm_purge(layout: &Layout, dir: Option<&Path>, given: Option<&str>) -> Result<()> {
    let Some(file) = ClusterFile::load(layout)? else { return Ok(()) };
    let dir = dir.map(|_| format!("--dir {} ", layout.root.display())).unwrap_or_default();
    let name = &file.spec.name;
    let how = format!("pgdeck {dir}local down --purge --confirm {name}");
    let stdin = std::io::stdin();
    if given.is_none() && stdin.is_terminal() {
        let (mut input, mut output) = (stdin.lock(), std::io::stderr());
        let terminal = Terminal { input: &mut input, output: &mut output };
        return check_typed(name, &layout.root, None, Some(terminal), &how);
    }
    check_typed(name, &layout.root, given, None, &how)
}

/// Checks that `name` was given, or typed at `terminal`; refuses with `how` to confirm otherwise.
pub fn check_typed(
    name: &str,
    root: &Path,
    given: Option<&str>,
    terminal: Option<Terminal<'_>>,
    how: &str,
) -> Result<()> {
    let untouched = "nothing was stopped or deleted";
    let typed = match (given, terminal) {
        (Some(given), _) => given.to_owned(),
        (None, None) => bail!(
            "refused: `local down --purge` deletes {} and all its data, and stdin is not a terminal to ask for the \
             cluster's name on; confirm with `{how}` ({untouched})",
            root.display()
        ),
        (None, Some(terminal)) => {
            write!(
                terminal.output,
                "`local down --purge` stops the local cluster `{name}` and deletes {}: its data, WAL archive, \
                 backups and credentials.\nType the cluster's name to confirm: ",
                root.display()
            )?;
            terminal.output.flush()?;
            let mut line = String::new();
            terminal.input.read_line(&mut line)?;
            line.trim().to_owned()
        }
    };
    if typed.is_empty() {
        bail!("refused: the cluster's name was not typed; confirm with `{how}` ({untouched})");
    }
    if typed != name {
        bail!("refused: `{typed}` is not the local cluster's name `{name}`; confirm with `{how}` ({untouched})");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOW: &str = "pgdeck local down --purge --confirm orders";

    fn typed_at_terminal(line: &str) -> (Result<()>, String) {
        let mut input = std::io::Cursor::new(line.as_bytes().to_vec());
        let mut output = Vec::new();
        let terminal = Terminal { input: &mut input, output: &mut output };
        let result = check_typed("orders", Path::new("/var/lib/pgdeck/local"), None, Some(terminal), HOW);
        (result, String::from_utf8(output).unwrap())
    }

    #[test]
    fn the_name_typed_at_the_terminal_confirms() {
        let (result, asked) = typed_at_terminal("orders\n");
        assert!(result.is_ok());
        assert!(
            asked.contains("deletes /var/lib/pgdeck/local") && asked.ends_with("Type the cluster's name to confirm: ")
        );
        for wrong in ["order\n", "\n", ""] {
            let e = typed_at_terminal(wrong).0.unwrap_err().to_string();
            assert!(
                e.starts_with("refused: ") && e.contains(HOW) && e.contains("nothing was stopped"),
                "{wrong:?}: {e}"
            );
        }
    }

    #[test]
    fn without_a_terminal_only_the_right_confirm_proceeds() {
        let root = Path::new("/data/local");
        let e = check_typed("orders", root, None, None, HOW).unwrap_err().to_string();
        assert!(e.contains("stdin is not a terminal") && e.contains(HOW), "{e}");
        let e = check_typed("orders", root, Some("postgres-cluster"), None, HOW).unwrap_err().to_string();
        assert!(e.contains("`postgres-cluster` is not the local cluster's name `orders`"), "{e}");
        assert!(check_typed("orders", root, Some("orders"), None, HOW).is_ok());
    }
}
