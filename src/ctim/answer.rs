//! The `/observe` answer, serialised once: each observable's entities are
//! written to JSON bytes where the observable was mapped (a [`Fragment`]),
//! and the answer is those bytes in request order between a few bytes of
//! envelope (an [`Answer`]), read out without ever being joined.

use std::collections::HashSet;
use std::io::{self, Read, Write};

use serde::Serialize;

use super::enrichment::enrichment_sightings;
use super::{indicator, indicator_id, relationship, sighting, Context};
use super::{EnrichedEvent, Enrichment};
use crate::error::RelayError;
use crate::observable::Observable;

/// One observable's CTIM entities, serialised: sightings and relationships
/// as comma-separated JSON documents, indicators one by one (the answer
/// keeps one per rule across observables).
#[derive(Debug, Default)]
pub struct Fragment {
    sightings: Docs,
    relationships: Docs,
    /// `(rule uuid, indicator JSON)`, in the order the rules were first seen.
    indicators: Vec<(Box<str>, Vec<u8>)>,
}

/// JSON documents joined by commas, and how many.
#[derive(Debug, Default)]
struct Docs {
    bytes: Vec<u8>,
    count: usize,
}

impl Docs {
    fn push(&mut self, doc: &impl Serialize) {
        let start = self.bytes.len();
        if self.count > 0 {
            self.bytes.push(b',');
        }
        // Writing to a Vec cannot fail, and the entities hold only strings,
        // numbers and GTI's own (valid) JSON, so this cannot either; should
        // it, the half-written entity is taken back rather than sent.
        match serde_json::to_writer(&mut self.bytes, doc) {
            Ok(()) => self.count += 1,
            Err(_) => self.bytes.truncate(start),
        }
    }
}

impl Fragment {
    /// Maps one observable's events: a sighting per event; for an event
    /// with a detection, the rule's indicator (once per rule) and a
    /// `sighting-of` relationship sighting → indicator. A detection whose
    /// rule has no string `uuid` keeps its sighting but gets neither.
    pub fn map<'a>(ctx: &Context, events: impl IntoIterator<Item = EnrichedEvent<'a>>) -> Fragment {
        let mut fragment = Fragment::default();
        fragment.push_events(ctx, events);
        fragment
    }

    /// Maps one observable: its enrichment sightings (SPEC §8.4: entity
    /// summary, passive DNS, file summary, those there are) before the
    /// sightings of its events, mapped as [`Fragment::map`] does. With an
    /// empty [`Enrichment`] the fragment is [`Fragment::map`]'s, ids
    /// included.
    pub fn map_observable<'a>(
        ctx: &Context,
        observable: &Observable,
        enrichment: &Enrichment,
        events: impl IntoIterator<Item = EnrichedEvent<'a>>,
    ) -> Fragment {
        let mut fragment = Fragment::default();
        for sighting in enrichment_sightings(ctx, observable, enrichment) {
            fragment.sightings.push(&sighting);
        }
        fragment.push_events(ctx, events);
        fragment
    }

    fn push_events<'a>(
        &mut self,
        ctx: &Context,
        events: impl IntoIterator<Item = EnrichedEvent<'a>>,
    ) {
        let mut rules: HashSet<&str> = HashSet::new();
        for found in events {
            let sighting = sighting(ctx, (ctx.new_id)("sighting"), &found);
            self.sightings.push(&sighting);

            let Some(rule) = found.detection.map(|detection| detection.rule.as_ref()) else {
                continue;
            };
            let Some(uuid) = rule.uuid() else {
                continue;
            };
            if rules.insert(uuid) {
                if let Some(indicator) = indicator(ctx, rule) {
                    let mut json = Vec::new();
                    if serde_json::to_writer(&mut json, &indicator).is_ok() {
                        self.indicators.push((uuid.into(), json));
                    }
                }
            }
            let target = indicator_id(uuid);
            self.relationships
                .push(&relationship(ctx, &sighting.id, &target));
        }
    }

    /// Whether the observable gave no entities.
    pub fn is_empty(&self) -> bool {
        self.sightings.count == 0 && self.relationships.count == 0 && self.indicators.is_empty()
    }

    /// How many sightings it holds.
    pub fn sightings(&self) -> usize {
        self.sightings.count
    }
}

/// A whole answer: `{"data": {…}}`, `{"data": {…}, "errors": […]}` or
/// `{"errors": […]}`, as pieces of bytes. Its length is known before it is
/// written, and it is written piece by piece.
#[derive(Debug)]
pub struct Answer {
    pieces: Vec<Piece>,
    len: usize,
    /// Reading position: the piece, and the offset in it.
    at: (usize, usize),
}

#[derive(Debug)]
enum Piece {
    Static(&'static [u8]),
    Owned(Vec<u8>),
}

impl Piece {
    fn bytes(&self) -> &[u8] {
        match self {
            Piece::Static(bytes) => bytes,
            Piece::Owned(bytes) => bytes,
        }
    }
}

impl Answer {
    /// The answer of `fragments` (in request order) and `errors` (one per
    /// distinct failure or warning). Data is left out only when a fatal
    /// error stands and nothing was found; otherwise each kind with entities
    /// appears (`{"data": {}}` when none has any): an answer with warnings
    /// only is a whole answer (SPEC §8.2).
    pub fn new(fragments: Vec<Fragment>, errors: &[RelayError]) -> Answer {
        let mut answer = Answer {
            pieces: Vec::new(),
            len: 0,
            at: (0, 0),
        };
        let empty = fragments.iter().all(Fragment::is_empty);
        let fatal = errors.iter().any(|error| !error.is_warning());
        let errors = (!errors.is_empty()).then(|| {
            let list: Vec<serde_json::Value> = errors.iter().map(RelayError::to_json).collect();
            serde_json::to_vec(&list).unwrap_or_default()
        });
        answer.push(Piece::Static(b"{"));
        if !fatal || !empty {
            answer.push(Piece::Static(b"\"data\":{"));
            answer.push_data(fragments);
            answer.push(Piece::Static(b"}"));
            if errors.is_some() {
                answer.push(Piece::Static(b","));
            }
        }
        if let Some(errors) = errors {
            answer.push(Piece::Static(b"\"errors\":"));
            answer.push(Piece::Owned(errors));
        }
        answer.push(Piece::Static(b"}"));
        answer
    }

    /// `"indicators":…,"relationships":…,"sightings":…`, each kind only
    /// when it has entities, in the reference's (alphabetical) order.
    fn push_data(&mut self, fragments: Vec<Fragment>) {
        let mut seen: HashSet<Box<str>> = HashSet::new();
        let mut indicators = Vec::new();
        let mut sightings = Vec::with_capacity(fragments.len());
        let mut relationships = Vec::with_capacity(fragments.len());
        for fragment in fragments {
            for (uuid, json) in fragment.indicators {
                if !seen.contains(&uuid) {
                    seen.insert(uuid);
                    indicators.push(json);
                }
            }
            sightings.push(fragment.sightings);
            relationships.push(fragment.relationships);
        }
        let indicators = indicators
            .into_iter()
            .fold(Docs::default(), |mut docs, json| {
                // Already serialised: only the commas are added.
                if docs.count > 0 {
                    docs.bytes.push(b',');
                }
                docs.bytes.extend_from_slice(&json);
                docs.count += 1;
                docs
            });
        let mut first = true;
        for (kind, docs) in [
            ("indicators", vec![indicators]),
            ("relationships", relationships),
            ("sightings", sightings),
        ] {
            let count: usize = docs.iter().map(|docs| docs.count).sum();
            if count == 0 {
                continue;
            }
            let comma = if first { "" } else { "," };
            first = false;
            self.push(Piece::Owned(
                format!("{comma}\"{kind}\":{{\"count\":{count},\"docs\":[").into_bytes(),
            ));
            let mut written = 0;
            for part in docs.into_iter().filter(|docs| docs.count > 0) {
                if written > 0 {
                    self.push(Piece::Static(b","));
                }
                written += part.count;
                self.push(Piece::Owned(part.bytes));
            }
            self.push(Piece::Static(b"]}"));
        }
    }

    fn push(&mut self, piece: Piece) {
        self.len += piece.bytes().len();
        self.pieces.push(piece);
    }

    /// The answer's length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it has no bytes (never: an answer is at least `{}`).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Writes the whole answer.
    pub fn write_to(&self, out: &mut impl Write) -> io::Result<()> {
        for piece in &self.pieces {
            out.write_all(piece.bytes())?;
        }
        Ok(())
    }

    /// The answer as one buffer (tests, small answers).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(self.len);
        for piece in &self.pieces {
            bytes.extend_from_slice(piece.bytes());
        }
        bytes
    }
}

/// Reads the answer out piece by piece; each piece is freed once read.
impl Read for Answer {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        loop {
            let (index, offset) = self.at;
            let Some(piece) = self.pieces.get_mut(index) else {
                return Ok(0);
            };
            let rest = &piece.bytes()[offset..];
            if rest.is_empty() {
                *piece = Piece::Static(b"");
                self.at = (index + 1, 0);
                continue;
            }
            let n = rest.len().min(buffer.len());
            buffer[..n].copy_from_slice(&rest[..n]);
            self.at = (index, offset + n);
            return Ok(n);
        }
    }
}
