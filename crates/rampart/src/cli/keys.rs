//! `rampart keys`: create, list and revoke API keys (admin only).
//!
//! A new key is shown once: it goes alone to stdout, so that
//! `KEY=$(rampart keys create …)` captures it, with the notes on stderr.

use anyhow::Context as _;
use rampart_client::wire::{KeyCreateRequest, KeyView};
use rampart_core::auth::Role;

use crate::cli::{Remote, output};

/// Options of `rampart keys`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: KeysCommand,
}

/// The subcommands of `rampart keys`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum KeysCommand {
    /// Create a key; it is shown only this once.
    Create {
        /// What the key may do: admin, producer, worker or reader.
        #[arg(long)]
        role: Role,
        /// A name for people, unique among live keys.
        #[arg(long)]
        name: String,
    },
    /// List every key (never the keys themselves), revoked ones included.
    List,
    /// Revoke a key at once.
    Revoke {
        /// The key's id or name.
        id_or_name: String,
    },
}

/// Runs a `rampart keys` subcommand.
pub async fn run(args: Args, remote: &Remote) -> anyhow::Result<()> {
    match args.command {
        KeysCommand::Create { role, name } => {
            let request = KeyCreateRequest { name, role };
            let created = remote
                .client
                .key_create(&request)
                .await
                .with_context(|| format!("cannot create the key `{}`", request.name))?;
            if remote.json {
                return output::json(&created);
            }
            let info = &created.info;
            eprintln!("created {} key `{}` (id {})", info.role, info.name, info.id);
            output::line(&created.key)?;
            eprintln!("store this key now: it is not shown again");
            Ok(())
        }
        KeysCommand::List => {
            let response = remote.client.keys().await.context("cannot list the keys")?;
            if remote.json {
                return output::json(&response);
            }
            keys_table(&response.keys).print()
        }
        KeysCommand::Revoke { id_or_name } => {
            remote
                .client
                .key_revoke(&id_or_name)
                .await
                .with_context(|| format!("cannot revoke the key `{id_or_name}`"))?;
            if remote.json {
                return output::json(&serde_json::json!({ "revoked": id_or_name }));
            }
            output::line(&format!("revoked key `{id_or_name}`"))
        }
    }
}

fn keys_table(keys: &[KeyView]) -> output::Table {
    let mut table = output::Table::new(&["ID", "NAME", "ROLE", "PREFIX", "CREATED", "REVOKED"]);
    for key in keys {
        table.row(vec![
            key.id.clone(),
            key.name.clone(),
            key.role.to_string(),
            key.prefix.clone(),
            key.created_at.to_string(),
            output::or_dash(key.revoked_at),
        ]);
    }
    table
}

#[cfg(test)]
mod tests {

    use super::*;

    fn parse(argv: &[&str]) -> Result<KeysCommand, clap::Error> {
        crate::cli::parse_args::<Args>("keys", argv).map(|a| a.command)
    }

    #[test]
    fn create_needs_a_known_role_and_a_name() {
        let Ok(KeysCommand::Create { role, name }) = parse(&["create", "--role", "worker", "--name", "billing"]) else {
            panic!("create parses");
        };
        assert_eq!((role, name.as_str()), (Role::Worker, "billing"));
        let err = parse(&["create", "--role", "root", "--name", "x"]).expect_err("bad role").to_string();
        assert!(err.contains("not a role"), "{err}");
        assert!(parse(&["create", "--role", "admin"]).is_err());
    }

    #[test]
    fn list_and_revoke_parse() {
        assert!(matches!(parse(&["list"]), Ok(KeysCommand::List)));
        assert!(matches!(parse(&["revoke", "ci"]), Ok(KeysCommand::Revoke { id_or_name }) if id_or_name == "ci"));
    }

    #[test]
    fn the_list_marks_live_keys_with_a_dash() {
        let key = |id: &str, revoked: Option<&str>| KeyView {
            id: id.into(),
            name: format!("key-{id}"),
            role: "reader".parse().unwrap(),
            prefix: "rk_ab12".into(),
            created_at: "2026-01-01T00:00:00.000Z".parse().unwrap(),
            revoked_at: revoked.map(|t| t.parse().unwrap()),
        };
        let text = keys_table(&[key("1", None), key("2", Some("2026-02-01T00:00:00.000Z"))]).render();
        let expected = "\
ID  NAME   ROLE    PREFIX   CREATED                   REVOKED
1   key-1  reader  rk_ab12  2026-01-01T00:00:00.000Z  -
2   key-2  reader  rk_ab12  2026-01-01T00:00:00.000Z  2026-02-01T00:00:00.000Z
";
        assert_eq!(text, expected);
    }
}
