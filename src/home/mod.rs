//! The home page.

pub mod web;
