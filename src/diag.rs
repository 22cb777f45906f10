//! Diagnostics: problems found in the user's files, as data.
//!
//! Loading never stops at the first problem: every finding becomes a [`Diagnostic`] with a
//! stable [`Code`], the file, the position and the field, and the caller decides at the end
//! (exit code, rendering). Renderers live in `cli::render`; this module owns only the values.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

use crate::source::Span;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

macro_rules! codes {
    ($($variant:ident = $name:literal: $desc:literal,)*) => {
        /// Stable finding codes. The kebab-case names are part of the interface (CI filters and
        /// SARIF rule ids use them): never rename one, only add.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code {
            $($variant,)*
        }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $name,)*
                }
            }

            /// One sentence on what the code means, for SARIF rules and `--explain`.
            pub fn description(self) -> &'static str {
                match self {
                    $(Code::$variant => $desc,)*
                }
            }
        }
    };
}

codes! {
    Io = "io-error": "The file could not be read.",
    FileTooLarge = "file-too-large": "The file is larger than the limit for a manifest.",
    NotUtf8 = "not-utf8": "The file is not valid UTF-8 text.",
    YamlSyntax = "yaml-syntax": "The file is not valid YAML.",
    DuplicateKey = "duplicate-key": "A mapping has the same key twice.",
    AliasLimit = "alias-limit": "YAML aliases expand to more nodes than allowed (an alias bomb).",
    TooDeep = "too-deep": "Values are nested deeper than allowed.",
    YamlUnsupported = "yaml-unsupported": "A YAML feature Recert does not accept: custom tags or complex keys.",
    EmptyFile = "empty-file": "A manifest file holds no document (empty, or only comments).",
    NotADocument = "not-a-document": "A YAML document is not a mapping with apiVersion, kind, metadata and spec.",
    UnknownApiVersion = "unknown-api-version": "apiVersion is not one this Recert understands.",
    UnknownKind = "unknown-kind": "kind is not one of Directory, DirectoryData, AccessReview, ReviewDecisions, Notifier, ReviewerPortal.",
    UnknownField = "unknown-field": "A field that the schema does not define (often a typo).",
    MissingField = "missing-field": "A required field is absent.",
    WrongType = "wrong-type": "A value has the wrong type.",
    InvalidValue = "invalid-value": "A value is outside what the field allows.",
    InvalidName = "invalid-name": "metadata.name or a reference is not a DNS-1123 label.",
    InlineSecret = "inline-secret": "A secret is written inline instead of by reference (env or file).",
    DuplicateName = "duplicate-name": "Two documents of the same kind have the same name.",
    UnresolvedReference = "unresolved-reference": "A reference to another document or object does not resolve.",
    DirectorySettings = "directory-settings": "A Directory's settings do not match its type.",
    ScheduleOrder = "schedule-order": "Schedule dates or lengths contradict each other.",
    ReviewerNotAllowed = "reviewer-not-allowed": "A reviewer decides an item the review does not let them decide.",
    DuplicateDecision = "duplicate-decision": "A principal is decided twice in one decisions file.",
    MissingReason = "missing-reason": "The review requires a reason and the decision has none.",
    DuplicateObject = "duplicate-object": "Two objects in a DirectoryData share an id or a unique name.",
    PlainHttp = "plain-http": "A Directory sends credentials over plain http to a host that is not loopback.",
    UnknownAuthority = "unknown-authority": "A Graph Directory's token authority is not a Microsoft Entra ID authority the operator trusts.",
    PathOutsideTree = "path-outside-tree": "A file Directory's data file is outside the manifests and every allowed data directory.",
    AmbiguousPrincipal = "ambiguous-principal": "A user principal name in a DirectoryData spells another principal's id.",
    NotifierSettings = "notifier-settings": "A Notifier's settings do not match its type, or would send mail or credentials unsafely.",
    PortalSettings = "portal-settings": "A ReviewerPortal would send sign-ins or credentials over plain http to a host that is not loopback.",
    InvalidAddress = "invalid-address": "An e-mail address that is not one (owners, additional recipients, a Notifier's sender).",
    MovedField = "moved-field": "A field that moved: the message says where it lives now.",
    ConflictingDecisions = "conflicting-decisions": "One reviewer gives different decisions on one principal in several files.",
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub code: Code,
    pub file: PathBuf,
    /// Where in the file; absent when the finding is about the whole file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span: Option<Span>,
    /// The field, as a path like `spec.schedule.durationDays` or `spec.decisions[2].principal`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub message: String,
    /// Extra lines: where a duplicate was first seen, "did you mean", allowed values.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Diagnostic {
    pub fn error(code: Code, file: impl Into<PathBuf>, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            code,
            file: file.into(),
            span: None,
            field: None,
            message: message.into(),
            notes: Vec::new(),
        }
    }

    pub fn warning(code: Code, file: impl Into<PathBuf>, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, file, message)
        }
    }

    #[must_use]
    pub fn at(mut self, span: Span) -> Diagnostic {
        self.span = Some(span);
        self
    }

    #[must_use]
    pub fn at_opt(mut self, span: Option<Span>) -> Diagnostic {
        self.span = span.or(self.span);
        self
    }

    #[must_use]
    pub fn field(mut self, field: impl Into<String>) -> Diagnostic {
        let field = field.into();
        self.field = (!field.is_empty()).then_some(field);
        self
    }

    #[must_use]
    pub fn note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    /// The order output is printed in: by file, then position, then code.
    pub fn sort_key(&self) -> (&PathBuf, Option<Span>, Code, &str) {
        (&self.file, self.span, self.code, &self.message)
    }
}

/// Turns a JSON pointer (`/spec/decisions/2/principal`) into the field path users read
/// (`spec.decisions[2].principal`).
pub fn field_path(pointer: &str) -> String {
    let mut out = String::new();
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
            out.push('[');
            out.push_str(&segment);
            out.push(']');
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&segment);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_path_renders_indices_in_brackets_and_unescapes_pointer_tokens() {
        assert_eq!(
            field_path("/spec/decisions/2/principal"),
            "spec.decisions[2].principal"
        );
        assert_eq!(field_path("/metadata/labels/a~1b"), "metadata.labels.a/b");
        assert_eq!(field_path(""), "");
    }

    #[test]
    fn code_names_are_unique_and_kebab_case() {
        let mut names: Vec<_> = Code::ALL.iter().map(|c| c.as_str()).collect();
        assert!(names.iter().all(|n| {
            n.bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'-' || b.is_ascii_digit())
        }));
        names.sort_unstable();
        let len = names.len();
        names.dedup();
        assert_eq!(names.len(), len);
    }
}
