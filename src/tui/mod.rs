pub mod keymap;
mod keys;
pub mod theme;
