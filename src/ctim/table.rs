//! The one-row `data` table the UI shows under a sighting: detection
//! summary columns first (to stand out), then the event-type specific ones,
//! each group behind a blank "header" column, event fields bulleted.

use serde::{Serialize, Serializer};

use super::EnrichedEvent;
use crate::gti::model::{Event, Verbatim};

#[derive(Debug, Serialize)]
pub(super) struct Table<'a> {
    columns: Vec<Column>,
    rows: [Vec<Cell<'a>>; 1],
}

/// A column's definition: its name and CTIM type.
#[derive(Debug, Clone, Copy, Serialize)]
pub(super) struct Column {
    pub(super) name: &'static str,
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
}

/// One cell of the row.
#[derive(Debug)]
enum Cell<'a> {
    /// GTI's value as it is.
    Verbatim(&'a Verbatim),
    Text(String),
    /// The blank cell under a group's header column.
    Blank,
    Count(usize),
    Null,
}

impl Serialize for Cell<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Cell::Verbatim(value) => value.serialize(serializer),
            Cell::Text(text) => serializer.serialize_str(text),
            Cell::Blank => serializer.serialize_str(" "),
            Cell::Count(count) => serializer.serialize_u64(*count as u64),
            Cell::Null => serializer.serialize_unit(),
        }
    }
}

/// How a table cell is taken from the event.
#[derive(Clone, Copy)]
enum Read {
    /// The field's value as it is (null when missing).
    Copy,
    /// Python's `str(value).lower()`: CTIM tables have no boolean type yet,
    /// so the reference shows `rejected` as the text `true`/`false`.
    LowerText,
    /// The length of an array field (`files`); 0 when null or missing, as
    /// the reference's `len(x or [])`.
    Count,
}

/// One event-specific column: its bulleted name, CTIM type, and how the
/// cell is read from the event.
type EventColumn = (&'static str, &'static str, Read, fn(&Event) -> Field<'_>);

/// What an event holds for a column.
enum Field<'a> {
    Value(Option<&'a Verbatim>),
    /// The number of items of a list field, `None` when it is no list.
    Items(Option<usize>),
}

const FLOW_COLUMNS: &[EventColumn] = &[
    ("• flow_state", "string", Read::Copy, |e| {
        Field::Value(e.flow_state.get())
    }),
    ("• proto", "string", Read::Copy, |e| {
        Field::Value(e.proto.get())
    }),
    ("• service", "string", Read::Copy, |e| {
        Field::Value(e.service.get())
    }),
    ("• total_pkts", "integer", Read::Copy, |e| {
        Field::Value(e.total_pkts.get())
    }),
];

const DNS_COLUMNS: &[EventColumn] = &[
    ("• qtype", "integer", Read::Copy, |e| {
        Field::Value(e.qtype.get())
    }),
    ("• qtype_name", "string", Read::Copy, |e| {
        Field::Value(e.qtype_name.get())
    }),
    ("• rcode", "integer", Read::Copy, |e| {
        Field::Value(e.rcode.get())
    }),
    ("• rcode_name", "string", Read::Copy, |e| {
        Field::Value(e.rcode_name.get())
    }),
    ("• rejected", "string", Read::LowerText, |e| {
        Field::Value(e.rejected.get())
    }),
];

const HTTP_COLUMNS: &[EventColumn] = &[
    ("• method", "string", Read::Copy, |e| {
        Field::Value(e.method.get())
    }),
    ("• status_code", "integer", Read::Copy, |e| {
        Field::Value(e.status_code.get())
    }),
    ("• status_msg", "string", Read::Copy, |e| {
        Field::Value(e.status_msg.get())
    }),
    ("• files", "integer", Read::Count, |e| {
        Field::Items(e.files.0.as_ref().map(Vec::len))
    }),
];

const SSH_COLUMNS: &[EventColumn] = &[
    ("• direction", "string", Read::Copy, |e| {
        Field::Value(e.direction.get())
    }),
    ("• client", "string", Read::Copy, |e| {
        Field::Value(e.client.get())
    }),
    ("• server", "string", Read::Copy, |e| {
        Field::Value(e.server.get())
    }),
];

const SURICATA_COLUMNS: &[EventColumn] = &[
    ("• sig_name", "string", Read::Copy, |e| {
        Field::Value(e.sig_name.get())
    }),
    ("• sig_category", "string", Read::Copy, |e| {
        Field::Value(e.sig_category.get())
    }),
    ("• sig_id", "integer", Read::Copy, |e| {
        Field::Value(e.sig_id.get())
    }),
    ("• sig_rev", "number", Read::Copy, |e| {
        Field::Value(e.sig_rev.get())
    }),
];

fn event_columns(event_type: Option<&str>) -> &'static [EventColumn] {
    match event_type {
        Some("flow") => FLOW_COLUMNS,
        Some("dns") => DNS_COLUMNS,
        Some("http") => HTTP_COLUMNS,
        Some("ssh") => SSH_COLUMNS,
        Some("suricata") => SURICATA_COLUMNS,
        _ => &[],
    }
}

fn cell<'a>(field: Field<'a>, how: Read) -> Cell<'a> {
    match (how, field) {
        (Read::Copy, Field::Value(Some(value))) => Cell::Verbatim(value),
        (Read::LowerText, Field::Value(Some(value))) => {
            Cell::Text(python_text(value).to_lowercase())
        }
        (Read::Count, Field::Items(count)) => Cell::Count(count.unwrap_or(0)),
        _ => Cell::Null,
    }
}

/// Python's `str()` of a JSON value, for the scalars GTI sends
/// (`True`, `None`, `42`, text); containers fall back to their JSON text.
fn python_text(value: &Verbatim) -> String {
    if value.is_null() {
        return "None".to_owned();
    }
    match value.as_bool() {
        Some(true) => "True".to_owned(),
        Some(false) => "False".to_owned(),
        None => value.canonical_text(),
    }
}

const SUMMARY_COLUMNS: [Column; 3] = [
    Column {
        name: "Detection Summary",
        kind: "string",
    },
    Column {
        name: "Impacted Devices",
        kind: "integer",
    },
    Column {
        name: "Indicator Values",
        kind: "integer",
    },
];

const EVENT_SUMMARY: Column = Column {
    name: "Event Summary",
    kind: "string",
};

/// The table of an event, `None` when it has neither a detection nor an
/// event type with columns of its own.
pub(super) fn data_table<'a>(found: &EnrichedEvent<'a>) -> Option<Table<'a>> {
    let event = found.event;
    let specific = event_columns(event.event_type());
    let width = 4 + specific.len();
    let mut columns = Vec::with_capacity(width);
    let mut row = Vec::with_capacity(width);

    if let Some(detection) = found.detection {
        columns.extend(SUMMARY_COLUMNS);
        row.push(Cell::Blank);
        match detection.summary {
            Some(summary) => row.extend([
                Cell::Count(summary.impacted_devices),
                Cell::Count(summary.indicator_values),
            ]),
            None => row.extend([Cell::Null, Cell::Null]),
        }
    }

    if !specific.is_empty() {
        columns.push(EVENT_SUMMARY);
        row.push(Cell::Blank);
        for &(name, kind, how, read) in specific {
            columns.push(Column { name, kind });
            row.push(cell(read(event), how));
        }
    }

    (!columns.is_empty()).then_some(Table {
        columns,
        rows: [row],
    })
}
