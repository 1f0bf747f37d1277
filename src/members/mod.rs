//! Members: their rows and queries, and `/api/v1/me`.

pub mod admin;
pub mod api;
pub mod emails;
pub mod model;
pub mod store;
