//! The local credential store: one JSON file, mode 0600, holding entries in the same shape as the
//! reference's Secrets Manager secrets, keyed by secret name (`postgres/admin-credentials`, …).

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use async_trait::async_trait;

use crate::secrets::{CredentialStore, Credentials, CredentialsWire};

pub struct CredentialFile {
    path: PathBuf,
    entries: BTreeMap<String, Credentials>,
}

impl CredentialFile {
    pub fn new(path: PathBuf) -> Self {
        Self { path, entries: BTreeMap::new() }
    }

    /// Reads the store, refusing one that others can read (as ssh refuses a private key).
    pub fn open(path: &Path) -> Result<Self> {
        let meta = fs::metadata(path).with_context(|| {
            format!("cannot read the credential file {}; run `pgdeck local up` first", path.display())
        })?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            bail!(
                "the credential file {} has mode {mode:o}, readable by others; run `chmod 600 {}`",
                path.display(),
                path.display()
            );
        }
        let text = fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let wire: BTreeMap<String, CredentialsWire> = serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not a credential file: expected {{\"<secret name>\": {{\"username\": …, \"password\": …}}}}",
                path.display()
            )
        })?;
        Ok(Self { path: path.to_owned(), entries: wire.into_iter().map(|(k, v)| (k, v.into())).collect() })
    }

    pub fn get(&self, name: &str) -> Result<&Credentials> {
        self.entries.get(name).with_context(|| {
            let known: Vec<&str> = self.entries.keys().map(String::as_str).collect();
            format!("no secret `{name}` in {}; it holds: {}", self.path.display(), known.join(", "))
        })
    }

    pub fn insert(&mut self, name: &str, credentials: Credentials) {
        self.entries.insert(name.to_owned(), credentials);
    }

    pub fn contains(&self, name: &str) -> bool {
        self.entries.contains_key(name)
    }

    pub fn remove(&mut self, name: &str) -> bool {
        self.entries.remove(name).is_some()
    }

    /// Writes the store atomically with mode 0600 from the first byte.
    pub fn save(&self) -> Result<()> {
        let wire: BTreeMap<&String, CredentialsWire> = self.entries.iter().map(|(k, v)| (k, v.into())).collect();
        let text = serde_json::to_string_pretty(&wire)?;
        let tmp = self.path.with_extension("json.tmp");
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o600))?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        fs::rename(&tmp, &self.path).with_context(|| format!("cannot write {}", self.path.display()))?;
        Ok(())
    }
}

/// The credential file as a [`CredentialStore`]: each call reads the file afresh, so a secret
/// another pgdeck process wrote meanwhile is neither missed nor overwritten.
pub struct FileStore {
    pub path: PathBuf,
}

#[async_trait]
impl CredentialStore for FileStore {
    fn location(&self) -> String {
        format!("the credential file {}", self.path.display())
    }

    async fn read(&self, name: &str) -> Result<Credentials> {
        Ok(CredentialFile::open(&self.path)?.get(name)?.clone())
    }

    async fn exists(&self, name: &str) -> Result<bool> {
        Ok(CredentialFile::open(&self.path)?.contains(name))
    }

    async fn create(&self, name: &str, credentials: &Credentials, _cluster: &str) -> Result<()> {
        let mut file = CredentialFile::open(&self.path)?;
        if file.contains(name) {
            bail!("{} already holds a secret `{name}`; remove it or choose another user name", self.path.display());
        }
        file.insert(name, credentials.clone());
        file.save()
    }

    async fn delete(&self, name: &str) -> Result<()> {
        let mut file = CredentialFile::open(&self.path)?;
        if file.remove(name) {
            file.save()?;
        }
        Ok(())
    }

    async fn stage(&self, name: &str, credentials: &Credentials) -> Result<String> {
        let mut file = CredentialFile::open(&self.path)?;
        file.get(name)?;
        file.insert(&pending_key(name), credentials.clone());
        file.save()?;
        Ok(PENDING_VERSION.to_owned())
    }

    async fn promote(&self, name: &str, _version: &str) -> Result<()> {
        let mut file = CredentialFile::open(&self.path)?;
        let staged = file.get(&pending_key(name))?.clone();
        file.insert(name, staged);
        file.remove(&pending_key(name));
        file.save()
    }

    async fn discard(&self, name: &str, _version: &str) -> Result<()> {
        self.delete(&pending_key(name)).await
    }

    async fn pending(&self, name: &str) -> Result<Option<(String, Credentials)>> {
        let file = CredentialFile::open(&self.path)?;
        Ok(file.entries.get(&pending_key(name)).map(|c| (PENDING_VERSION.to_owned(), c.clone())))
    }
}

/// The file's stand-in for a staged version: a second entry beside the secret, so that a
/// rotation interrupted after PostgreSQL took the new password still has it on disk.
const PENDING_VERSION: &str = "pending";

fn pending_key(name: &str) -> String {
    format!("{name}#pending")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::Secret;

    #[test]
    fn round_trip_keeps_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials.json");
        let mut store = CredentialFile::new(path.clone());
        store.insert(
            "postgres/admin-credentials",
            Credentials { username: "postgres".into(), password: Secret::new("pw") },
        );
        store.save().unwrap();
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let text = fs::read_to_string(&path).unwrap();
        let raw: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(raw["postgres/admin-credentials"]["username"], "postgres");
        let back = CredentialFile::open(&path).unwrap();
        assert_eq!(back.get("postgres/admin-credentials").unwrap().password.expose(), "pw");
    }

    #[test]
    fn group_readable_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json");
        fs::write(&path, "{}").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        let e = CredentialFile::open(&path).err().unwrap().to_string();
        assert!(e.contains("chmod 600"), "{e}");
    }

    #[test]
    fn missing_entry_names_what_exists() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json");
        let mut store = CredentialFile::new(path.clone());
        store.insert("a", Credentials { username: "u".into(), password: Secret::new("p") });
        store.save().unwrap();
        let e = CredentialFile::open(&path).unwrap().get("b").err().unwrap().to_string();
        assert!(e.contains("no secret `b`") && e.contains(": a"), "{e}");
    }

    #[tokio::test]
    async fn file_store_creates_once_and_deletes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json");
        CredentialFile::new(path.clone()).save().unwrap();
        let store = FileStore { path: path.clone() };
        let alice = Credentials { username: "alice".into(), password: Secret::new("pw") };
        store.create("postgres/alice-credentials", &alice, "c").await.unwrap();
        assert_eq!(store.read("postgres/alice-credentials").await.unwrap(), alice);
        let again = store.create("postgres/alice-credentials", &alice, "c").await.unwrap_err().to_string();
        assert!(again.contains("already holds"), "{again}");
        store.delete("postgres/alice-credentials").await.unwrap();
        assert!(store.read("postgres/alice-credentials").await.is_err());
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
}
