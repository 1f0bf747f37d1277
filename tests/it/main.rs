//! Integration tests: one binary, so one throwaway PostgreSQL cluster serves
//! every test in the run (see `helpers`).

mod account_pages;
mod accounts;
mod admin;
mod announcements;
mod cli;
mod database;
mod digest;
mod directory;
mod email;
mod events;
mod helpers;
mod mail_server;
mod openapi;
mod pages_and_errors;
mod processes;
mod roster;
mod schema;
mod service;
