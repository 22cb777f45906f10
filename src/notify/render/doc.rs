//! What a message says, before it is written for a channel: headings, paragraphs, lists and
//! code, all as plain text. Each channel writes the same document in its own markup and does
//! its own escaping, so no channel can forget a value another one escaped.

/// A message's content, channel-neutral.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Doc {
    /// The e-mail subject; also Slack's header and the notification preview.
    pub subject: String,
    /// One sentence: Slack's fallback text and Teams' card summary.
    pub summary: String,
    /// Where the review can be opened (an `http(s)` URL; other schemes are dropped).
    pub link: Option<String>,
    pub blocks: Vec<Block>,
    /// Why the recipient gets the message, in small print at the end.
    pub footer: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    Heading(String),
    Paragraph(String),
    /// What nobody may miss: a denial that was not carried out, a blocked apply.
    Alert(String),
    /// Label and value pairs.
    Facts(Vec<(String, String)>),
    /// One entry per item, reviewer or result.
    List(Vec<Entry>),
    /// Text to copy exactly (a YAML snippet, a command line), never wrapped or reflowed.
    Code(String),
}

/// One entry of a list: what it is, and details as label and value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub title: String,
    pub details: Vec<(String, String)>,
}

/// `text` with control characters (line breaks among them) turned into spaces: for a value
/// that must stay on one line, such as a subject or a YAML comment.
pub fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The link, if it is one a reader can safely follow (`https://` or `http://`).
pub fn safe_link(link: Option<&str>) -> Option<String> {
    let link = link?.trim();
    let lower = link.to_ascii_lowercase();
    let ok = (lower.starts_with("https://") || lower.starts_with("http://"))
        && !link.chars().any(|c| c.is_control() || c.is_whitespace());
    ok.then(|| link.to_owned())
}
