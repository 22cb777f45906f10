//! Reading a large YAML text on several cores.
//!
//! A YAML scanner is sequential, and a `DirectoryData` of a hundred thousand assignments is one
//! document of a few megabytes, so one core would read it while the others wait. Such a file is
//! mostly long block lists, one entry per line or a few: the entries of a list can be read
//! apart. The text is cut at lines that start an entry (`k` spaces, `- `, content) into
//! *middles* — runs of whole entries of one list — and the *skeleton*, everything else. The
//! middles are read in parallel, each as a list of its own, while the skeleton is read with
//! each group of middles removed; their entries are then put back where they were cut out.
//!
//! Nothing is assumed about the text: every cut is proved against the parse itself, and
//! anything that cannot be proved makes the caller read the whole text as usual.
//!
//! - At every place a group was cut out, the skeleton's parser must stand between two entries
//!   of a block list at column `k`: the first node after the place starts on its line, as a
//!   direct entry of an open list that starts with `-` at column `k`. A cut inside a quoted,
//!   plain or block scalar, a flow collection, or a list of another indentation fails this.
//! - Each middle, alone, must read as one document that is a block list starting on its first
//!   line at column `k`, with no error, no anchor and no alias (an anchor's meaning depends on
//!   the text before it).
//! - The skeleton must read with no error at all, so that every error the caller reports
//!   comes from the ordinary reading, with its true position.
//!
//! Given those, the scanner's state at each cut is the same with or without the middle (a
//! block list between entries, at the start of a line), the middle's tokens are all at column
//! `k` or deeper so they never touch the enclosing blocks, and a middle ends at the start of
//! the next entry's line, which closes its last entry as the end of its own text does.

use rayon::prelude::*;
use saphyr_parser::{Event, Span as YSpan};
use serde_json::Value;

use super::{Builder, Document, Frame, MAX_DEPTH, Parsed, drive};

/// Texts shorter than this are read in one go: cutting costs more than it saves.
const MIN_TEXT: usize = 1 << 20;

/// The smallest middle worth a task of its own.
const MIN_MIDDLE: usize = 128 << 10;

/// A run of whole entries of one block list, cut out of the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Middle {
    start: usize,
    end: usize,
    /// The column of the list's `-`.
    indent: usize,
}

/// Where a group of adjacent middles was cut out, in the skeleton.
#[derive(Debug)]
struct Join {
    /// The skeleton's line (1-based) that follows the cut.
    line: usize,
    indent: usize,
    middles: std::ops::Range<usize>,
}

/// A join as the skeleton's parse found it: the path to its list and the entry index there.
#[derive(Debug)]
struct Found {
    document: usize,
    path: Vec<Step>,
    at: usize,
    /// The stack depth of the list, for the nesting limit.
    depth: usize,
}

#[derive(Debug)]
enum Step {
    Index(usize),
    Key(String),
}

/// Reads `text` in parallel pieces; `None` when it is small, has no long list, or any cut
/// cannot be proved (the caller then reads it whole, which also finds the errors).
pub(super) fn parse_values(text: &str) -> Option<Parsed<Value>> {
    if text.len() < MIN_TEXT {
        return None;
    }
    // Many middles per core, so that a core that finishes early takes another and the last
    // one read alone is short (with four a core, one core read the last 50 ms by itself).
    let target = MIN_MIDDLE.max(text.len() / (16 * rayon::current_num_threads().max(1)));
    parse_cut(text, target)
}

/// [`parse_values`] with middles of about `target` bytes, whatever the text's size.
fn parse_cut(text: &str, target: usize) -> Option<Parsed<Value>> {
    let middles = cut(text, target);
    if middles.is_empty() {
        return None;
    }
    let (skeleton, joins) = skeleton(text, &middles);
    let (found, read) = rayon::join(
        || read_skeleton(&skeleton, &joins),
        || {
            middles
                .par_iter()
                .map(|m| read_middle(&text[m.start..m.end], m.indent))
                .collect::<Option<Vec<(Vec<Value>, usize)>>>()
        },
    );
    let (mut parsed, found) = found?;
    let mut read = read?;
    // Back to front, so that the indices of earlier joins still hold.
    for (join, found) in joins.iter().zip(found).rev() {
        let deepest = read[join.middles.clone()]
            .iter()
            .map(|(_, d)| *d)
            .max()
            .unwrap_or(0);
        // The middle's own list sits where the skeleton's list is.
        if found.depth + deepest > MAX_DEPTH + 1 {
            return None;
        }
        let items: Vec<Value> = read[join.middles.clone()]
            .iter_mut()
            .flat_map(|(items, _)| std::mem::take(items))
            .collect();
        let list = locate(&mut parsed.documents, &found)?;
        if found.at > list.len() {
            return None;
        }
        list.splice(found.at..found.at, items);
    }
    Some(parsed)
}

/// The middles: from each line that starts an entry of a block list, as many whole entries of
/// that list as make `target` bytes, cut at the line that starts the next entry.
fn cut(text: &str, target: usize) -> Vec<Middle> {
    let mut middles = Vec::new();
    // The list being cut: its indentation, and where the current middle starts.
    let mut run: Option<(usize, usize)> = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let at = offset;
        offset += line.len();
        let body = line.trim_end_matches(['\n', '\r']);
        let indent = body.len() - body.trim_start_matches(' ').len();
        if indent == body.len() {
            continue;
        }
        let entry = starts_entry(&body[indent..]);
        if let Some((k, start)) = run {
            if indent > k {
                continue;
            }
            if indent < k || !entry {
                run = None;
            } else if at - start >= target {
                middles.push(Middle {
                    start,
                    end: at,
                    indent: k,
                });
                run = Some((k, at));
                continue;
            } else {
                continue;
            }
        }
        if entry {
            run = Some((indent, at));
        }
    }
    middles
}

/// Whether a line's text after its indentation starts a list entry with content on the line.
fn starts_entry(rest: &str) -> bool {
    let mut chars = rest.chars();
    chars.next() == Some('-')
        && chars.next() == Some(' ')
        && chars
            .find(|c| *c != ' ')
            .is_some_and(|c| !matches!(c, '\t' | '\r' | '#'))
}

/// The text with the middles cut out, and a join for each group of adjacent middles.
fn skeleton(text: &str, middles: &[Middle]) -> (String, Vec<Join>) {
    let mut skeleton =
        String::with_capacity(text.len() - middles.iter().map(|m| m.end - m.start).sum::<usize>());
    let mut joins: Vec<Join> = Vec::new();
    let mut kept = 0;
    let mut line = 1;
    for (i, m) in middles.iter().enumerate() {
        if let Some(last) = joins.last_mut()
            && last.middles.end == i
            && middles[i - 1].end == m.start
        {
            last.middles.end = i + 1;
            kept = m.end;
            continue;
        }
        let piece = &text[kept..m.start];
        line += piece.bytes().filter(|b| *b == b'\n').count();
        skeleton.push_str(piece);
        joins.push(Join {
            line,
            indent: m.indent,
            middles: i..i + 1,
        });
        kept = m.end;
    }
    skeleton.push_str(&text[kept..]);
    (skeleton, joins)
}

/// Reads the skeleton, proving each join as it passes it.
fn read_skeleton(skeleton: &str, joins: &[Join]) -> Option<(Parsed<Value>, Vec<Found>)> {
    let mut found = Vec::with_capacity(joins.len());
    let mut failed = false;
    let (builder, complete) = drive(skeleton, |event, span, builder: &Builder<Value>| {
        let Some(join) = joins.get(found.len()) else {
            return true;
        };
        // A scalar from before the join that runs past the start of its `-` would hold the
        // middles' text in the whole reading. (A block scalar ends where the next token
        // starts: at the `-` itself.)
        if matches!(event, Event::Scalar(..))
            && span.start.line() < join.line
            && (span.end.line(), span.end.col()) > (join.line, join.indent)
        {
            failed = true;
            return false;
        }
        if !starts_node(event) || span.start.line() < join.line {
            return true;
        }
        match prove(join, event, span, builder) {
            Some(f) => {
                found.push(f);
                true
            }
            None => {
                failed = true;
                false
            }
        }
    });
    if failed || !complete || found.len() != joins.len() || !builder.parsed.errors.is_empty() {
        return None;
    }
    Some((builder.parsed, found))
}

fn starts_node(event: &Event<'_>) -> bool {
    matches!(
        event,
        Event::Scalar(..) | Event::SequenceStart(..) | Event::MappingStart(..) | Event::Alias(..)
    )
}

/// The first node at or after a join must start on the join's line, and be either an entry
/// of an open list or the list itself (when the middles held its first entries): the line
/// starts with `-` at the join's column, so in block context that is the list whose entries
/// are at that column. (Block context: a `-` entry inside a flow collection is a syntax error,
/// and no scalar may run across the join; see [`read_skeleton`].)
fn prove(join: &Join, event: &Event<'_>, span: &YSpan, builder: &Builder<Value>) -> Option<Found> {
    if span.start.line() != join.line {
        return None;
    }
    // An entry's node starts after its `- `. A node placed at or before the `-` is not the
    // entry's: an empty block scalar or value from before the join is placed where the
    // parser found out it was empty, at the next token.
    let col = span.start.col();
    let after_dash = col >= join.indent + 2;
    let starts_list = match (event, builder.stack.last()) {
        // An indented list starts at its `-`; a list that is a mapping's value may sit at the
        // key's column, and then starts at its first entry's node.
        (Event::SequenceStart(..), _) if col == join.indent => true,
        (Event::SequenceStart(..), Some(Frame::Map { .. })) if after_dash => true,
        (_, Some(Frame::Seq { .. })) if after_dash => false,
        _ => return None,
    };
    let ancestors = if starts_list {
        &builder.stack[..]
    } else {
        &builder.stack[..builder.stack.len() - 1]
    };
    let mut path = Vec::with_capacity(ancestors.len());
    for frame in ancestors {
        path.push(match frame {
            Frame::Seq { items, .. } => Step::Index(items.len()),
            Frame::Map { pending_key, .. } => Step::Key(pending_key.as_ref()?.0.clone()),
        });
    }
    let at = match builder.stack.last() {
        Some(Frame::Seq { items, .. }) if !starts_list => items.len(),
        _ => 0,
    };
    Some(Found {
        document: builder.parsed.documents.len(),
        path,
        at,
        depth: ancestors.len() + 1,
    })
}

/// Reads one middle: its entries, and the deepest nesting inside it (its list counts as 1).
fn read_middle(text: &str, indent: usize) -> Option<(Vec<Value>, usize)> {
    let mut first = true;
    let mut shape_ok = true;
    let (builder, complete) = drive(text, |event, span, _: &Builder<Value>| {
        if first && starts_node(event) {
            first = false;
            shape_ok = matches!(event, Event::SequenceStart(..))
                && span.start.line() == 1
                && span.start.col() == indent;
        }
        shape_ok
    });
    if !complete || !shape_ok || builder.anchored || !builder.parsed.errors.is_empty() {
        return None;
    }
    let mut documents = builder.parsed.documents;
    if documents.len() != 1 {
        return None;
    }
    let deepest = builder.deepest;
    match documents.pop() {
        Some(Document {
            root: Value::Array(items),
            damaged: false,
            ..
        }) => Some((items, deepest)),
        _ => None,
    }
}

/// The list a join's entries go into.
fn locate<'d>(documents: &'d mut [Document<Value>], found: &Found) -> Option<&'d mut Vec<Value>> {
    let mut value = &mut documents.get_mut(found.document)?.root;
    for step in &found.path {
        value = match (step, value) {
            (Step::Index(i), Value::Array(items)) => items.get_mut(*i)?,
            (Step::Key(key), Value::Object(map)) => map.get_mut(key)?,
            _ => return None,
        };
    }
    match value {
        Value::Array(items) => Some(items),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::yaml::parse_into;

    /// The pieces' reading is the whole reading, or none at all.
    fn same_or_none(text: &str, target: usize) -> Option<Parsed<Value>> {
        let whole = parse_into::<Value>(text);
        let pieces = parse_cut(text, target)?;
        assert!(whole.errors.is_empty(), "cut a text with errors: {text}");
        assert_eq!(pieces.documents, whole.documents, "{text}");
        assert!(pieces.errors.is_empty());
        Some(pieces)
    }

    fn directory(users: usize) -> String {
        let mut text = String::from(
            "# people\napiVersion: recert.dev/v1alpha1\nkind: DirectoryData\nspec:\n  users:\n",
        );
        for u in 0..users {
            text.push_str(&format!("    - {{id: u-{u}, upn: user{u}@corp.example}}\n"));
            if u % 7 == 0 {
                text.push_str(&format!("    - id: g-{u}\n      members:\n        - u-{u}\n        - u-0\n      note: |\n        - not an entry\n        line two\n\n"));
            }
            if u % 11 == 0 {
                text.push_str("    # a comment between entries\n");
            }
        }
        text.push_str("  roles:\n  - {id: r-1}\n  - {id: r-2}\n  assignments:\n");
        for a in 0..users {
            text.push_str(&format!(
                "  - id: a-{a}\n    principal: u-{a}\n    role: r-1\n"
            ));
        }
        text.push_str("---\nsecond: [1, 2]\n");
        text
    }

    #[test]
    fn long_lists_read_in_pieces_equal_the_whole_reading() {
        let text = directory(300);
        for target in [40, 300, 1_000, 4_000] {
            let cut_out = cut(&text, target);
            assert!(cut_out.len() > 2, "target {target}: {cut_out:?}");
            assert!(
                same_or_none(&text, target).is_some(),
                "target {target}: not cut"
            );
        }
    }

    #[test]
    fn a_long_list_is_cut_into_runs_of_whole_entries() {
        let text = "a:\n  - x\n  - y\n  - z\n  - w\nb: 1\n";
        let middles = cut(text, 1);
        assert_eq!(
            middles,
            [
                Middle {
                    start: 3,
                    end: 9,
                    indent: 2
                },
                Middle {
                    start: 9,
                    end: 15,
                    indent: 2
                },
                Middle {
                    start: 15,
                    end: 21,
                    indent: 2
                },
            ]
        );
        let (skeleton, joins) = skeleton(text, &middles);
        assert_eq!(skeleton, "a:\n  - w\nb: 1\n");
        assert_eq!(joins.len(), 1);
        assert_eq!((joins[0].line, joins[0].middles.clone()), (2, 0..3));
        assert!(same_or_none(text, 1).is_some());
    }

    #[test]
    fn lines_that_only_look_like_entries_are_never_cut_apart() {
        // Each text has lines `  - …` that are not entries of a list at column 2: inside a
        // block scalar, a quoted scalar, a flow list, or a list of another indentation.
        let cases = [
            "a: |\n  - x\n  - y\n  - z\nb: 1\n",
            "a:\n  - \"x\n  - y\n  - z\"\n  - w\n",
            "a:\n  - 'x\n  - y\n  - z'\n  - w\n",
            "a: [\n  - x,\n  - y\n  ]\n",
            "a:\n- x\n  - y\n  - z\n",
            "a:\n  - x\n  - y\n  - z\n  - w\n  - v\n",
        ];
        for text in cases {
            for target in 1..12 {
                same_or_none(text, target);
            }
        }
        // A block scalar's text is never read as entries.
        assert!(parse_cut("a: |\n  - x\n  - y\n  - z\nb: 1\n", 1).is_none());
    }

    #[test]
    fn anchors_aliases_and_errors_make_the_whole_text_read_as_usual() {
        let cases = [
            // An anchor defined before a middle and used in it.
            "a: &p {x: 1}\nl:\n  - *p\n  - y\n  - z\n  - w\n",
            // Defined in a middle, used after it.
            "l:\n  - &q x\n  - y\n  - z\n  - w\nb: *q\n",
            // Redefined in a middle.
            "l:\n  - &q x\n  - &q y\n  - z\n  - w\nb: *q\n",
            // A duplicate key in a middle.
            "l:\n  - {a: 1, a: 2}\n  - y\n  - z\n  - w\n",
            // A syntax error after the lists.
            "l:\n  - x\n  - y\n  - z\n  - w\nb: [\n",
            // A tag handle declared before a middle.
            "%TAG !e! tag:example.com,2000:\n---\nl:\n  - !e!x a\n  - y\n  - z\n",
        ];
        for text in cases {
            for target in 1..12 {
                assert!(parse_cut(text, target).is_none(), "{text} at {target}");
            }
        }
    }

    #[test]
    fn nesting_inside_pieces_counts_toward_the_depth_limit() {
        // Entries nested 61 deep inside a list at depth 3: 63 levels read whole, too deep
        // only by one more.
        let deep = |levels: usize| {
            let entry = format!("{}x{}", "[".repeat(levels), "]".repeat(levels));
            format!("a:\n  b:\n    - {entry}\n    - {entry}\n    - {entry}\n    - {entry}\n")
        };
        assert!(same_or_none(&deep(MAX_DEPTH - 3), 1).is_some());
        let too_deep = deep(MAX_DEPTH - 2);
        assert!(!parse_into::<Value>(&too_deep).errors.is_empty());
        assert!(parse_cut(&too_deep, 1).is_none());
    }

    fn fragment() -> impl Strategy<Value = String> {
        let body = prop::sample::select(vec![
            "- a",
            "- {id: x, n: 1}",
            "- id: y",
            "k: v",
            "- |",
            "- >-",
            "- \"q",
            "r\"",
            "- 'x",
            "y'",
            "- [",
            "- s,",
            "]",
            "}",
            "- {",
            "# c",
            "",
            "- &a x",
            "- *a",
            "k: &b v",
            "- !!str 5",
            "---",
            "...",
            "key:",
            "- - n",
            "-",
            "- x: 1",
            "  y: 2",
            "? k",
            ": v",
            "- \"a\\\"b\"",
            "- #c",
            "- x # c",
        ]);
        (0usize..5, body).prop_map(|(indent, body)| format!("{}{body}", "  ".repeat(indent)))
    }

    /// One entry of a block list at `indent`, of a shape chosen by `kind`; several shapes hold
    /// lines that look like entries of this list or of another.
    fn entry(kind: u8, indent: usize, n: usize) -> String {
        let i = " ".repeat(indent);
        match kind {
            0 => format!("{i}- v{n}\n"),
            1 => format!("{i}- {{id: x{n}, l: [a, b]}}\n"),
            2 => format!("{i}- id: y{n}\n{i}  list:\n{i}  - p\n{i}  - q\n"),
            3 => format!("{i}- id: y{n}\n{i}  list:\n{i}    - p\n{i}    - q\n"),
            4 => format!("{i}- \"multi\n{i}- line {n}\"\n"),
            5 => format!("{i}- |\n{i}  - lit\n{i}  - lit {n}\n"),
            6 => format!("{i}- note: |\n{i}    - text {n}\n\n"),
            7 => format!("{i}- - a{n}\n{i}  - b\n"),
            8 => format!("{i}# comment {n}\n\n"),
            9 => format!("{i}- [a{n},\n{i}  b]\n"),
            10 => format!("{i}- 'single\n{i}- quoted {n}'\n"),
            11 => format!("{i}- plain\n{i}  - continued {n}\n"),
            12 => format!("{i}- >\n{i}    folded\n{i}    - {n}\n"),
            13 => format!("{i}- key: \"two\n{i}    - lines {n}\"\n"),
            // Empty nodes, which the parser places at the next token.
            14 => format!("{i}- |\n"),
            15 => format!("{i}- l:\n{i}  - |\n"),
            16 => format!("{i}- l:\n{i}  - >\n\n"),
            17 => format!("{i}- k{n}:\n"),
            18 => format!("{i}- l:\n{i}  -\n"),
            _ => format!("{i}-\n"),
        }
    }

    fn document() -> impl Strategy<Value = String> {
        let list = (prop::bool::ANY, prop::collection::vec(0u8..20, 1..30));
        prop::collection::vec(list, 1..4).prop_map(|lists| {
            let mut text = String::new();
            for (k, (indented, kinds)) in lists.into_iter().enumerate() {
                text.push_str(&format!("key{k}:\n"));
                let indent = if indented { 2 } else { 0 };
                for (n, kind) in kinds.into_iter().enumerate() {
                    text.push_str(&entry(kind, indent, n));
                }
            }
            text
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        #[test]
        fn pieces_read_the_same_as_the_whole_or_not_at_all(
            lines in prop::collection::vec(fragment(), 1..40),
            target in 1usize..40,
        ) {
            let text = lines.join("\n") + "\n";
            same_or_none(&text, target);
        }

        #[test]
        fn lists_of_tricky_entries_read_the_same_in_pieces(
            text in document(),
            target in 1usize..60,
            noise in prop::option::of((0usize..200, fragment())),
        ) {
            let mut text = text;
            // Sometimes a stray line somewhere, which may break the text or change its shape.
            if let Some((at, line)) = noise {
                let starts: Vec<usize> = std::iter::once(0)
                    .chain(text.match_indices('\n').map(|(i, _)| i + 1))
                    .filter(|i| *i < text.len())
                    .collect();
                let at = starts[at % starts.len()];
                text.insert_str(at, &(line + "\n"));
            }
            same_or_none(&text, target);
        }
    }
}
