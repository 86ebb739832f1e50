//! The Dockerfile builder: frontend (lexer, parser, variable expansion), build context and
//! `.dockerignore`, and the deterministic layer writer.

pub mod context;
pub mod dockerfile;
pub mod dockerignore;
pub mod expand;
pub mod layer;
