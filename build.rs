// The migrations are embedded in the binary (`embed_migrations!`): without
// this, a new migration folder would not rebuild it, and the binary would
// run without the new schema.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
