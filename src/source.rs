//! Sources observe a cluster and report what they saw as Observations. They never fail:
//! a failure is an Observation (`SourceFailed`), and a source that hangs is cut off by its timeout.

use std::time::Duration;

use async_trait::async_trait;
use std::sync::Arc;

use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinSet;

use crate::clock;
use crate::observation::{FailureKind, Observation, ObservationKind, SourceId};

#[async_trait]
pub trait Source: Send {
    /// The `source` of its observations.
    fn id(&self) -> SourceId;
    /// The member its failures are about, if it watches one member.
    fn member(&self) -> Option<String>;
    /// One round of observation.
    async fn poll(&mut self) -> Vec<ObservationKind>;
    /// The shortest sensible time between two rounds: listing a backup repository each second
    /// would cost more than it tells.
    fn min_interval(&self) -> Duration {
        Duration::ZERO
    }
}

/// How often sources poll, changeable at runtime, and a way to make them all poll now.
#[derive(Clone)]
pub struct Pacing {
    pub interval: watch::Receiver<Duration>,
    pub poll_now: Arc<Notify>,
}

/// Polls one source with a deadline, stamping what it reports with the time it arrived.
pub async fn poll_with_timeout(source: &mut dyn Source, timeout: Duration) -> Vec<Observation> {
    let id = source.id();
    let kinds = match tokio::time::timeout(timeout, source.poll()).await {
        Ok(kinds) => kinds,
        Err(_) => vec![ObservationKind::SourceFailed {
            member: source.member(),
            error: format!("no answer within {}s", timeout.as_secs_f32()),
            failure: FailureKind::Timeout,
        }],
    };
    let at = clock::now();
    kinds.into_iter().map(|kind| Observation::new(at, id.clone(), kind)).collect()
}

/// Polls every source once, concurrently; returns when all answered or timed out.
pub async fn poll_all(sources: Vec<Box<dyn Source>>, timeout: Duration) -> Vec<Observation> {
    let mut set = JoinSet::new();
    for mut source in sources {
        set.spawn(async move { poll_with_timeout(source.as_mut(), timeout).await });
    }
    let mut out = Vec::new();
    while let Some(done) = set.join_next().await {
        match done {
            Ok(observations) => out.extend(observations),
            Err(e) => tracing::error!("a source task ended abnormally: {e}"),
        }
    }
    out
}

/// Runs a source until the receiver is gone, polling at the paced interval (or when told to),
/// sending what it sees.
pub fn spawn_loop(mut source: Box<dyn Source>, mut pacing: Pacing, timeout: Duration, tx: mpsc::Sender<Observation>) {
    tokio::spawn(async move {
        loop {
            for observation in poll_with_timeout(source.as_mut(), timeout).await {
                if tx.send(observation).await.is_err() {
                    return;
                }
            }
            let wait = (*pacing.interval.borrow()).max(source.min_interval());
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = pacing.poll_now.notified() => {}
                changed = pacing.interval.changed() => if changed.is_err() { return },
            }
        }
    });
}

/// What kind of failure an error's chain holds: a refused connection anywhere in it is a
/// refusal, an elapsed deadline a timeout.
pub fn failure_kind(error: &anyhow::Error) -> FailureKind {
    for cause in error.chain() {
        if cause.downcast_ref::<tokio::time::error::Elapsed>().is_some() {
            return FailureKind::Timeout;
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => return FailureKind::Refused,
                std::io::ErrorKind::TimedOut => return FailureKind::Timeout,
                _ => {}
            }
        }
    }
    FailureKind::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_refused_connection_and_a_deadline_are_told_apart_from_other_failures() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let refused = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap_err();
        let refused = anyhow::Error::from(refused).context("cannot connect to the member");
        assert_eq!(failure_kind(&refused), FailureKind::Refused);
        let elapsed = tokio::time::timeout(Duration::from_millis(1), std::future::pending::<()>()).await.unwrap_err();
        let elapsed = anyhow::Error::from(elapsed).context("127.0.0.1:5432 did not accept a connection within 3s");
        assert_eq!(failure_kind(&elapsed), FailureKind::Timeout);
        assert_eq!(failure_kind(&anyhow::anyhow!("password authentication failed")), FailureKind::Other);
    }
}
