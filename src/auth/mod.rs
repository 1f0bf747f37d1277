//! Authentication: passwords, tokens, who is asking, limits, and the
//! `/api/v1/auth/*` endpoints (DESIGN.md, mechanism 6).

pub mod accounts;
pub mod api;
pub mod csrf;
pub mod emails;
pub mod extract;
pub mod limits;
pub mod password;
pub mod session;
pub mod store;
pub mod tokens;
pub mod web;
