//! Test support: one real local cluster shared by the tests of a run.

#![allow(dead_code)]
// Test support: a failed expectation is a test failure, so panicking is the point.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

pub mod fake_kube;
pub mod fixtures;
pub mod incidents;
pub mod local_cluster;
pub mod moto;
pub mod sql;
pub mod tmux;
