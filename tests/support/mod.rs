//! Test support: one real local cluster shared by the tests of a run.

#![allow(dead_code)]

pub mod local_cluster;
pub mod sql;
