//! Enums whose values have fixed names: [`named_enum!`](crate::named_enum)
//! declares the enum and its names once, and derives from them both ways
//! of crossing the string boundary (config, the API, the store), so a name
//! is spelled in one place and every value has one.

/// Declares an enum whose every variant has a fixed name, and with it:
/// `ALL` (every value, in declaration order), `as_str` (an exhaustive
/// match, so a new variant without a name does not compile), `Display`
/// (the name) and, when a parse error is given, `FromStr` that reads back
/// exactly the names `as_str` writes.
///
/// ```
/// #[derive(Debug)]
/// pub struct ColourError(pub String);
///
/// rampart_core::named_enum! {
///     /// A colour.
///     #[derive(Debug, Clone, Copy, PartialEq, Eq)]
///     pub enum Colour {
///         /// Red.
///         Red = "red",
///         /// Dark blue.
///         DarkBlue = "dark_blue",
///     }
///     parse_error: ColourError = |s| ColourError(s.to_string());
/// }
///
/// assert_eq!(Colour::DarkBlue.as_str(), "dark_blue");
/// assert_eq!("red".parse::<Colour>().ok(), Some(Colour::Red));
/// assert_eq!("blue".parse::<Colour>().unwrap_err().0, "blue");
/// assert_eq!(Colour::ALL, [Colour::Red, Colour::DarkBlue]);
/// ```
///
/// The enum must be `Copy`. The parse error is built by a function of the
/// refused text, so each enum keeps its own error type and message.
#[macro_export]
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$variant_meta:meta])* $variant:ident = $text:literal ),+ $(,)?
        }
        parse_error: $error:ty = $make_error:expr;
    ) => {
        $crate::named_enum! {
            $(#[$meta])*
            $vis enum $name {
                $( $(#[$variant_meta])* $variant = $text, )+
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $error;

            fn from_str(s: &str) -> ::std::result::Result<Self, Self::Err> {
                match s {
                    $( $text => Ok($name::$variant), )+
                    _ => {
                        let make_error: fn(&str) -> $error = $make_error;
                        Err(make_error(s))
                    }
                }
            }
        }
    };
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$variant_meta:meta])* $variant:ident = $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis enum $name {
            $( $(#[$variant_meta])* $variant, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: [$name; $crate::named_enum!(@count $($variant)+)] = [$($name::$variant),+];

            /// The value's name: its one spelling in config, the API, the
            /// store and messages.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
    (@count $($variant:ident)+) => { <[()]>::len(&[$($crate::named_enum!(@unit $variant)),+]) };
    (@unit $variant:ident) => { () };
}
