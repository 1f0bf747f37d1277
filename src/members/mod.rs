//! Members: their rows and queries, `/api/v1/me`, and the board's
//! decisions on them.

pub mod admin;
pub mod admin_web;
pub mod api;
pub mod emails;
pub mod model;
pub mod privacy;
pub mod profile;
pub mod settings;
pub mod store;
pub mod unsubscribe;
pub mod web;
pub mod your_data;
