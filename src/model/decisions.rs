//! `ReviewDecisions`: one reviewer's decisions on one review. One file per reviewer keeps pull
//! requests free of conflicts.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::envelope::{DNS1123_LABEL, DNS1123_MESSAGE};
use super::resource;

resource!(
    /// A reviewer's decisions on the items of an access review.
    ReviewDecisions,
    ReviewDecisionsSpec,
    ReviewDecisions
);

/// Whose decisions, on which review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ReviewDecisionsSpec {
    /// The name of the `AccessReview`.
    #[schemars(regex(pattern = DNS1123_LABEL), extend("errorMessage" = DNS1123_MESSAGE))]
    pub review: String,
    /// The instance decided on, by id (its start date, as `recert pending` shows). Absent: the
    /// instance in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub instance: Option<String>,
    /// With a multi-stage review: the stage decided in (1 for the first). Absent: the stage in
    /// progress. See the entries' `stage`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3))]
    pub stage: Option<u32>,
    /// Who decides: a user id or user principal name. The review must allow them to decide
    /// each item listed.
    #[schemars(length(min = 1))]
    pub reviewer: String,
    /// The decisions. When a principal appears in several entries across files, the last
    /// decision recorded wins; within one file a principal may appear once.
    #[serde(default)]
    pub decisions: Vec<DecisionEntry>,
}

/// A decision on one or several principals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(extend(
    "oneOf" = [{ "required": ["principal"] }, { "required": ["principals"] }],
    "errorMessage" = "a decision takes exactly one of `principal` and `principals`"
))]
pub struct DecisionEntry {
    /// The principal decided on: a user or group id, or a user principal name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub principal: Option<String>,
    /// Several principals given the same decision and reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(min = 1), inner(length(min = 1)))]
    pub principals: Vec<String>,
    /// `approve` (keep access), `deny` (remove it on apply) or `dontKnow` (keeps access).
    pub decision: Decision,
    /// Why. Required when the review sets `requireJustification`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 4096))]
    pub reason: Option<String>,
    /// The instance this entry is meant for, by id (`recert decide` writes the instance in
    /// progress). Absent: the file's `instance`, or the instance in progress. An entry that
    /// names its instance counts for it even when it was already in the file before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub instance: Option<String>,
    /// With a multi-stage review: the stage this entry is meant for (1 for the first; `recert
    /// decide` writes the stage in progress). Absent: the file's `stage`, or the stage in
    /// progress. An entry already in the file when a later stage starts counts for that stage
    /// only once it changes or names the stage here; one naming a stage still to come waits
    /// for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3))]
    pub stage: Option<u32>,
    /// The reset this entry was made after (the review's `requests.reset` token; `recert
    /// decide` writes it). A reset clears every decision; an entry counts again once it
    /// changes or names that reset here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub after_reset: Option<String>,
}

impl DecisionEntry {
    /// The principals this entry decides, in the order written.
    pub fn principals(&self) -> impl Iterator<Item = &str> {
        self.principal
            .iter()
            .chain(self.principals.iter())
            .map(String::as_str)
    }
}

/// A reviewer's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Decision {
    /// Keep the access.
    Approve,
    /// Remove the access when the results are applied.
    Deny,
    /// Undecided in substance; keeps the access.
    DontKnow,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Deny => "deny",
            Decision::DontKnow => "dontKnow",
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
