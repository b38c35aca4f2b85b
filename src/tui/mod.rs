//! The interactive console.

pub mod app;
pub mod clipboard;
pub mod form;
pub mod keymap;
mod keys;
pub mod targets;
pub mod terminal;
pub mod theme;
pub mod ui;
mod ui_actions;
pub mod views;
