//! The last stage of the pipeline: what a batch of runs shows its reader.
//! The summary table and failure lines ([`table`]), JUnit XML ([`junit`]),
//! the files a run leaves behind (its JSON record, its history, its HTML
//! page: [`files`], [`html`]; the directory's [`manifest`]). All of them
//! read records and outcomes; none runs anything.

pub mod files;
pub mod html;
pub mod junit;
pub mod manifest;
pub mod requests;
pub mod table;

/// Text made safe inside HTML and XML (elements and quoted attributes).
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
