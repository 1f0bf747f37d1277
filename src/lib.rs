//! Karvan: a membership service for alumni associations.
//!
//! The binary in `main.rs` is a thin CLI over this library; the tests start
//! the same [`app::Application`] that `karvan serve` runs.

pub mod announcements;
pub mod api;
pub mod app;
pub mod audit;
pub mod auth;
pub mod config;
pub mod contacts;
pub mod db;
pub mod digest;
pub mod directory;
pub mod email;
pub mod error;
pub mod events;
pub mod health;
pub mod home;
pub mod markdown;
pub mod members;
pub mod metrics;
pub mod openapi;
pub mod pages;
pub mod programs;
pub mod roster;
pub mod seed;
pub mod telemetry;
pub mod ticker;
