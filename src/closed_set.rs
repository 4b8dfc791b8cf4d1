//! Closed sets: fieldless enums whose every variant owns a slot in a
//! fixed-size table (a counter per route, a count per severity, a value per
//! region). `closed_set!` declares such an enum together with its `ALL`
//! array and `index`, both generated from the one variant list, so a new
//! variant gets its slot and no hand-kept index table can fall out of step.
//! Only the macro lives here: no types, no imports.

/// Declares a fieldless enum (attributes, derives and variant docs as
/// written) and, generated from its one list of variants:
///
/// * `ALL`, every variant in declaration order;
/// * `index(self)`, the variant's position in `ALL` (`ALL[v.index()] == v`),
///   for the tables indexed by it.
macro_rules! closed_set {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $(
                $(#[$variant_meta:meta])*
                $variant:ident
            ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[repr(usize)]
        $vis enum $name {
            $(
                $(#[$variant_meta])*
                $variant
            ),+
        }

        impl $name {
            /// Every variant, in declaration order: the order of the tables
            /// indexed by [`Self::index`].
            $vis const ALL: [$name; [$(stringify!($variant)),+].len()] = [$($name::$variant),+];

            /// The position in [`Self::ALL`], for the tables indexed by it.
            $vis const fn index(self) -> usize {
                self as usize
            }
        }
    };
}
