//! The interactive console.

pub mod app;
pub mod clipboard;
pub mod form;
pub mod keymap;
mod keys;
pub mod terminal;
pub mod theme;
pub mod ui;
pub mod views;
