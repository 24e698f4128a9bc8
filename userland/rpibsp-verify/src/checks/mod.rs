//! The check groups. Each `run` records one case per check in the [`crate::Ctx`].

pub mod buttons;
pub mod devicemodel;
pub mod drivers;
pub mod led;
pub mod overlay;
