//! The crate's error, rolled up from each module's own enum. Its variant decides the exit
//! code (see `main.rs`).

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("writing the OCI layout failed")]
    Layout(#[from] crate::oci::layout::LayoutError),
}
