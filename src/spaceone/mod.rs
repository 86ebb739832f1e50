//! TODO (written last)
pub mod api;
pub mod error;
pub mod manifest;
