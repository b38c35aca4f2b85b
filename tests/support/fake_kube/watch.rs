//! `?watch=true`: a chunked stream of newline-delimited `{"type":…,"object":…}` events, as
//! client-go and `kube::runtime::watcher` read it.
//!
//! Start points follow the real server: no resourceVersion or "0" sends the current objects as
//! ADDED first; `sendInitialEvents=true` does too and then a BOOKMARK marked
//! `k8s.io/initial-events-end`; any other resourceVersion replays the changes after it from the
//! bounded history, or answers an ERROR event with a 410 `Expired` Status when it is too old.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::response::Response;
use serde_json::{json, Value};
use tokio::sync::broadcast;

use super::http::{present, Query, Target};
use super::resources::ResourceType;
use super::selectors::Selector;
use super::status::{self, Status};
use super::store::{Change, EventType};
use super::{lock, Inner};

struct Watch {
    inner: Arc<Inner>,
    rt: &'static ResourceType,
    version: String,
    namespace: Option<String>,
    selector: Selector,
    pending: VecDeque<Bytes>,
    changes: broadcast::Receiver<Arc<Change>>,
    restarts: tokio::sync::watch::Receiver<u64>,
    deadline: Option<tokio::time::Instant>,
    bookmarks: Option<tokio::time::Interval>,
    /// Every change up to here has been sent or filtered out: what a BOOKMARK may promise.
    last_rv: u64,
    done: bool,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.inner.open_watches.fetch_sub(1, Ordering::SeqCst);
    }
}

fn line(kind: &str, object: &Value) -> Bytes {
    let mut text = json!({"type": kind, "object": object}).to_string();
    text.push('\n');
    Bytes::from(text)
}

impl Watch {
    fn bookmark(&self, initial_end: bool) -> Bytes {
        let mut meta = json!({"resourceVersion": self.last_rv.to_string(), "creationTimestamp": null});
        if initial_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        line(
            "BOOKMARK",
            &json!({"kind": self.rt.kind, "apiVersion": self.rt.api_version(&self.version), "metadata": meta}),
        )
    }

    /// The event this change is for this watch, if any: selectors turn an object that starts
    /// or stops matching into ADDED or DELETED.
    fn event_for(&self, change: &Change) -> Option<Bytes> {
        if change.resource != self.rt.key() || self.namespace.as_ref().is_some_and(|ns| *ns != change.namespace) {
            return None;
        }
        let now = self.selector.matches(&change.object);
        let before = change.previous.as_ref().is_some_and(|p| self.selector.matches(p));
        let kind = match (change.kind, before, now) {
            (EventType::Added, _, true) | (EventType::Modified, false, true) => "ADDED",
            (EventType::Modified, true, true) => "MODIFIED",
            (EventType::Modified, true, false) => "DELETED",
            (EventType::Deleted, b, n) if b || n => "DELETED",
            _ => return None,
        };
        Some(line(kind, &present(self.rt, &self.version, change.object.clone())))
    }

    async fn next(&mut self) -> Option<Result<Bytes, std::io::Error>> {
        if self.done {
            return None;
        }
        if let Some(b) = self.pending.pop_front() {
            return Some(Ok(b));
        }
        loop {
            let bookmark_tick = async {
                match self.bookmarks.as_mut() {
                    Some(i) => i.tick().await,
                    None => std::future::pending().await,
                }
            };
            let deadline = async {
                match self.deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                _ = self.restarts.changed() => {
                    self.done = true;
                    return Some(Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "API server restarted")));
                }
                received = self.changes.recv() => match received {
                    Ok(change) => {
                        self.last_rv = self.last_rv.max(change.rv);
                        if let Some(b) = self.event_for(&change) {
                            return Some(Ok(b));
                        }
                    }
                    // Fell behind: end the stream; the client resumes from its last resourceVersion.
                    Err(_) => return None,
                },
                () = deadline => return None,
                _ = bookmark_tick => return Some(Ok(self.bookmark(false))),
            }
        }
    }
}

fn expired_response(inner: &Inner, rv: u64, oldest: u64) -> Response {
    inner.expired_served.fetch_add(1, Ordering::SeqCst);
    let Status { body, .. } = status::expired(rv, oldest);
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(Body::from(line("ERROR", &body)))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

pub fn serve(inner: &Arc<Inner>, target: &Target, query: &Query) -> Result<Response, Status> {
    let rt = target.rt;
    let selector = Selector::parse(
        rt,
        query.get("labelSelector").map(String::as_str),
        query.get("fieldSelector").map(String::as_str),
    )?;
    let rv_param = query.get("resourceVersion").map_or("", String::as_str);
    let initial_events = query.get("sendInitialEvents").is_some_and(|v| v == "true");
    let bookmarks_allowed = query.get("allowWatchBookmarks").is_some_and(|v| v == "true");
    let store = lock(&inner.store);
    let mut watch = Watch {
        inner: Arc::clone(inner),
        rt,
        version: target.version.clone(),
        namespace: target.namespace.clone(),
        selector,
        pending: VecDeque::new(),
        // Subscribed under the store lock: nothing can fall between the replay and the live feed.
        changes: store.events.subscribe(),
        restarts: inner.restarts.subscribe(),
        deadline: query
            .get("timeoutSeconds")
            .and_then(|t| t.parse::<u64>().ok())
            .map(|s| tokio::time::Instant::now() + Duration::from_secs(s)),
        bookmarks: None,
        last_rv: store.resource_version(),
        done: false,
    };
    inner.open_watches.fetch_add(1, Ordering::SeqCst);
    if initial_events || rv_param.is_empty() || rv_param == "0" {
        for obj in store.list(rt, target.namespace.as_deref()) {
            if watch.selector.matches(obj) {
                watch.pending.push_back(line("ADDED", &present(rt, &target.version, obj.clone())));
            }
        }
        if initial_events {
            let b = watch.bookmark(true);
            watch.pending.push_back(b);
        }
    } else {
        let rv = rv_param
            .parse::<u64>()
            .map_err(|_| status::bad_request(&format!("invalid resource version: {rv_param}")))?;
        let Some(replay) = store.changes_since(rv) else {
            return Ok(expired_response(inner, rv, store.resource_version()));
        };
        for change in &replay {
            if let Some(b) = watch.event_for(change) {
                watch.pending.push_back(b);
            }
        }
    }
    drop(store);
    if bookmarks_allowed {
        let every = *lock(&inner.bookmark_every);
        watch.bookmarks = Some(tokio::time::interval_at(tokio::time::Instant::now() + every, every));
    }
    let stream = futures::stream::unfold(watch, |mut w| async move { w.next().await.map(|item| (item, w)) });
    Ok(Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .header("cache-control", "no-cache, private")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| Response::new(Body::empty())))
}
