//! Members: their rows and queries, and `/api/v1/me`.

pub mod api;
pub mod model;
pub mod store;
