//! pgdeck: a terminal console that provisions and watches a highly available PostgreSQL cluster.
//! See DESIGN.md for the data flow: sources → Observations → `State::apply` → views/status.

pub mod action;
pub mod audit;
pub mod cli;
pub mod clock;
pub mod command;
pub mod config;
pub mod dirs;
pub mod dispatch;
pub mod health;
pub mod model;
pub mod names;
pub mod observation;
pub mod os_user;
pub mod platform;
pub mod preconditions;
pub mod record;
pub mod secrets;
pub mod source;
pub mod spec;
pub mod sql;
pub mod state;
pub mod status;
#[cfg(test)]
mod testing;
pub mod time_input;
pub mod toml_located;
pub mod tui;
pub mod units;
