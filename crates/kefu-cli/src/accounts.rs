//! `kefu user passwd|role|revoke-token|logout-all|deactivate`: account
//! controls on the server's database, audited as done by `cli`.

use std::process::ExitCode;

use kefu_service::accounts::{self, AccountActor};
use kefu_service::auth::Role;
use kefu_store::Store;

use crate::serve::{read_password, runtime, UserCommand};

/// Runs one of the account-control subcommands.
pub(crate) fn run(cmd: UserCommand) -> anyhow::Result<ExitCode> {
    let by = AccountActor::cli();
    let (db, id) = match &cmd {
        UserCommand::Passwd { db, id }
        | UserCommand::Role { db, id, .. }
        | UserCommand::RevokeToken { db, id, .. }
        | UserCommand::LogoutAll { db, id }
        | UserCommand::Deactivate { db, id } => (db.url(), id.clone()),
        _ => anyhow::bail!("not an account-control command"),
    };
    let password = match &cmd {
        UserCommand::Passwd { .. } => Some(read_password()?),
        _ => None,
    };
    let said = runtime()?.block_on(async {
        let store = Store::open(&db).await?;
        let said = match cmd {
            UserCommand::Passwd { .. } => {
                let ended =
                    accounts::change_password(&store, &by, &id, password.unwrap_or_default())
                        .await?;
                format!("password of {id} changed; {ended} sessions ended")
            }
            UserCommand::Role { role, .. } => {
                let role: Role = role.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
                accounts::change_role(&store, &by, &id, role).await?;
                format!("{id} is now {}", role.as_str())
            }
            UserCommand::RevokeToken { token, .. } => {
                accounts::revoke_token(&store, &by, &id, token).await?;
                format!("token {token} of {id} revoked")
            }
            UserCommand::LogoutAll { .. } => {
                let ended = accounts::logout_all(&store, &by, &id).await?;
                format!("{ended} sessions of {id} ended")
            }
            UserCommand::Deactivate { .. } => {
                accounts::deactivate(&store, &by, &id).await?;
                format!("{id} deactivated")
            }
            _ => anyhow::bail!("not an account-control command"),
        };
        store.close().await;
        anyhow::Ok(said)
    })?;
    println!("{said}");
    Ok(ExitCode::SUCCESS)
}
