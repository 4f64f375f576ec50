//! The demo data set (`roost-server demo`): four users (alice is "you"), seven chats with
//! human-looking conversations, one of them with 100 000 messages (some edited, some deleted),
//! one empty chat and one chat alice is not in. Creating it is one transaction, and idempotent:
//! a second run finds the demo tokens and prints the same output.
//!
//! The demo keeps its users' plaintext tokens (so a re-run can print them) in `demo_tokens`,
//! a table only demo databases have: the demo creates it here, never the production migrations.

use crate::db::Backend;
use crate::error::ServerError;
use crate::store::{self, Store, generate_token, now_millis, sha256_hex};
use roost_proto::{ChatId, Seq, UnixMillis, UserId};
use serde::Serialize;
use sqlx::Row;

/// Messages in the big demo chat unless told otherwise.
pub const DEFAULT_BIG_CHAT_MESSAGES: usize = 100_000;

const DEMO_USERS: [(&str, &str); 4] = [
    ("alice", "Alice Martin"),
    ("bob", "Bob Okafor"),
    ("carol", "Carol Nguyen"),
    ("dave", "Dave Kowalski"),
];

#[derive(Debug, Clone, Serialize)]
pub struct DemoUser {
    pub user_id: String,
    pub display_name: String,
    pub token: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DemoChat {
    pub chat_id: ChatId,
    pub title: String,
    pub members: Vec<UserId>,
    pub last_seq: Seq,
    pub rev: u64,
}

/// What `roost-server demo` prints.
#[derive(Debug, Clone, Serialize)]
pub struct DemoOutput {
    pub server_url: String,
    /// The user the demo client logs in as.
    pub demo_user: String,
    pub users: Vec<DemoUser>,
    pub chats: Vec<DemoChat>,
    /// False when the data already existed and was reused.
    pub created: bool,
}

/// Creates the demo data set unless it exists, and describes it.
pub async fn ensure_demo(
    store: &Store,
    server_url: &str,
    big_chat_messages: usize,
) -> Result<DemoOutput, ServerError> {
    refuse_non_demo_users(store).await?;
    create_demo_tables(store).await?;
    let existing: i64 = sqlx::query("SELECT COUNT(*) AS n FROM demo_tokens")
        .fetch_one(&store.db.read)
        .await?
        .try_get("n")?;
    let created = existing == 0;
    if created {
        create_demo(store, big_chat_messages).await?;
    }
    describe(store, server_url, created).await
}

/// The demo publishes its users' tokens: it must never run on a database that real users are
/// in. Checked before anything is created, so a refused database gets no demo tables either.
async fn refuse_non_demo_users(store: &Store) -> Result<(), ServerError> {
    let others = sqlx::query(
        "SELECT COUNT(*) AS n FROM users WHERE id NOT IN (SELECT user_id FROM demo_tokens)",
    )
    .fetch_one(&store.db.read)
    .await;
    let others: i64 = match others {
        Ok(row) => row.try_get("n")?,
        // No demo_tokens table: not a demo database; any user at all is a real one.
        Err(_) => sqlx::query("SELECT COUNT(*) AS n FROM users")
            .fetch_one(&store.db.read)
            .await?
            .try_get("n")?,
    };
    if others > 0 {
        return Err(ServerError::InvalidInput(format!(
            "this database holds {others} users that are not demo users; \
             `demo` needs a new database (or one it created)"
        )));
    }
    Ok(())
}

/// The demo-only tables (same DDL on both engines).
async fn create_demo_tables(store: &Store) -> Result<(), ServerError> {
    let mut tx = store.db.write.begin().await?;
    // Tokens of the demo users, kept so that `roost-server demo` can be re-run and print the
    // same tokens (the demo is a local toy; real users only ever have their token's hash stored).
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS demo_tokens (\
             user_id TEXT PRIMARY KEY NOT NULL REFERENCES users(id), \
             token TEXT NOT NULL)",
    )
    .execute(&mut *tx)
    .await?;
    // Chats created by the demo, in creation order, so a re-run can list them.
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS demo_chats (\
             position BIGINT PRIMARY KEY NOT NULL, \
             chat_id TEXT NOT NULL REFERENCES chats(id))",
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn describe(
    store: &Store,
    server_url: &str,
    created: bool,
) -> Result<DemoOutput, ServerError> {
    let mut tx = store.db.read.begin().await?;
    let user_rows = sqlx::query(
        "SELECT u.id, u.display_name, d.token FROM demo_tokens d JOIN users u ON u.id = d.user_id ORDER BY u.id",
    )
    .fetch_all(&mut *tx)
    .await?;
    let users = user_rows
        .iter()
        .map(|row| {
            Ok(DemoUser {
                user_id: row.try_get("id")?,
                display_name: row.try_get("display_name")?,
                token: row.try_get("token")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let chat_rows = sqlx::query(
        "SELECT c.id, c.title, c.last_seq, c.rev FROM demo_chats d JOIN chats c ON c.id = d.chat_id ORDER BY d.position",
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut chats = Vec::new();
    for row in &chat_rows {
        let id_text: String = row.try_get("id")?;
        let chat_id: ChatId = id_text
            .parse()
            .map_err(|_| ServerError::Corrupt(format!("bad chat id {id_text}")))?;
        let members = store::chat_members(&mut tx, chat_id).await?;
        chats.push(DemoChat {
            chat_id,
            title: row.try_get("title")?,
            members,
            last_seq: row.try_get::<i64, _>("last_seq")? as u64,
            rev: row.try_get::<i64, _>("rev")? as u64,
        });
    }
    tx.commit().await?;
    Ok(DemoOutput {
        server_url: server_url.to_owned(),
        demo_user: "alice".into(),
        users,
        chats,
        created,
    })
}

type Script = &'static [(&'static str, &'static str)];

const WEEKEND_HIKE: Script = &[
    ("bob", "Anyone up for a hike on Saturday?"),
    ("carol", "Yes! Where are you thinking?"),
    (
        "bob",
        "The ridge trail above the lake. About 14 km, some climbing.",
    ),
    ("alice", "Count me in. What time?"),
    ("bob", "Meet at the car park at 8?"),
    ("carol", "8 is brutal but fine. I'll bring coffee."),
    ("alice", "Weather says sunny until 3, then maybe showers."),
    ("bob", "Then we aim to be down by 2."),
    ("carol", "Should I bring the big thermos or the small one?"),
    ("alice", "Big one, definitely."),
    ("bob", "I can drive, I have room for three."),
    ("alice", "Great, pick me up at 7:40?"),
    ("bob", "Deal."),
    ("carol", "I'll make sandwiches. Any allergies?"),
    ("alice", "No nuts for me please."),
    ("carol", "Noted 🥪"),
    ("bob", "Don't forget rain jackets just in case."),
    ("alice", "Packed already."),
    ("carol", "Map is in the shared folder."),
    ("bob", "See you all Saturday!"),
];

const DESIGN_REVIEW: Script = &[
    ("carol", "I pushed the new chat-list mockups."),
    ("dave", "Looking now. The unread badges are much clearer."),
    ("alice", "Love the skeleton rows for missing history."),
    (
        "carol",
        "Should the resync button live in the header or the overflow menu?",
    ),
    (
        "dave",
        "Header. People need to find it when something looks off.",
    ),
    ("alice", "Agree, but only once the chat is fully rendered."),
    ("carol", "Good point, I'll note that in the spec."),
    ("dave", "Typo on slide 4: 'recieve'."),
    ("carol", "Fixed, thanks."),
    ("alice", "Can we review the dark theme on Thursday?"),
    ("dave", "Thursday works."),
    ("carol", "Booked 14:00."),
];

const BOB_AND_ALICE: Script = &[
    ("bob", "Hey, do you have the slides from Monday?"),
    ("alice", "Sure, sending them over."),
    ("alice", "Here you go: the link is in your inbox."),
    ("bob", "Thanks!"),
    ("bob", "Lunch tomorrow?"),
    ("alice", "Yes, the ramen place?"),
    ("bob", "Perfect, 12:30."),
    ("alice", "👍"),
];

const RELEASE_PLANNING: Script = &[
    ("dave", "Release 1.0 checklist is up."),
    ("alice", "I'll take the offline-cache tests."),
    ("dave", "Great. I'm on packaging for Linux and macOS."),
    ("alice", "Do we ship the demo server in the bundle?"),
    ("dave", "As a separate binary, yes."),
    ("alice", "Release notes draft by Friday?"),
    ("dave", "I'll have it by Thursday evening."),
    ("alice", "Code freeze is Wednesday noon."),
    ("dave", "Noted. No more features after that 😅"),
];

const BOOK_CLUB: Script = &[
    ("carol", "Next book: 'The Left Hand of Darkness'?"),
    ("alice", "Yes! I've wanted to read it for ages."),
    ("carol", "Meeting on the 14th then."),
];

const SURPRISE_PARTY: Script = &[
    ("bob", "Alice's birthday is in two weeks. Surprise party?"),
    ("carol", "Absolutely. My place?"),
    ("dave", "I'll handle the cake."),
    ("bob", "Don't mention anything in General!"),
    ("carol", "My lips are sealed 🤐"),
];

/// Phrases the big chat cycles through (with the message number, so pages are tellable apart).
const GENERAL_PHRASES: [&str; 24] = [
    "Good morning everyone!",
    "Has anyone seen the build logs from last night?",
    "Coffee machine on the 3rd floor is fixed.",
    "Reminder: stand-up moved to 10:15.",
    "Can someone review my pull request?",
    "Deploy went fine, no errors so far.",
    "Who's in for lunch?",
    "The staging server is slow again.",
    "I'll be out this afternoon, ping me if urgent.",
    "Nice work on the release!",
    "Does anyone have a spare HDMI adapter?",
    "Meeting notes are in the wiki.",
    "Looks good to me.",
    "Let's discuss this in the retro.",
    "I'm running late, start without me.",
    "The new onboarding doc is great.",
    "Any objections to merging this today?",
    "Fixed the flaky test, finally.",
    "Thanks for the help yesterday!",
    "Weekly metrics are in, we're up 12%.",
    "Happy Friday!",
    "Who broke the nightly? 😄",
    "I'll take a look after lunch.",
    "Agreed, let's ship it.",
];

/// The demo data set in one transaction: the users (with fresh tokens), the big General chat
/// and the small scripted ones.
async fn create_demo(store: &Store, big_chat_messages: usize) -> Result<(), ServerError> {
    let now = now_millis();
    let backend = store.backend();
    let mut tx = store.db.write.begin().await?;
    insert_demo_users(&mut tx, now).await?;
    let mut position = 0i64;
    create_general_chat(&mut tx, backend, &mut position, now, big_chat_messages).await?;
    create_small_chats(&mut tx, backend, &mut position, now).await?;
    tx.commit().await?;
    Ok(())
}

/// The demo users, each with a new token (also kept in `demo_tokens`, so `demo` can print it).
async fn insert_demo_users(
    tx: &mut sqlx::AnyConnection,
    now: UnixMillis,
) -> Result<(), ServerError> {
    for (handle, display_name) in DEMO_USERS {
        let token = generate_token();
        // A user that already exists (e.g. made with add-user) gets a new token: the demo must
        // be able to print a working one.
        sqlx::query(
            "INSERT INTO users (id, display_name, token_sha256, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO UPDATE SET token_sha256 = excluded.token_sha256",
        )
        .bind(handle)
        .bind(display_name)
        .bind(sha256_hex(token.as_bytes()))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO demo_tokens (user_id, token) VALUES ($1, $2) \
             ON CONFLICT (user_id) DO UPDATE SET token = excluded.token",
        )
        .bind(handle)
        .bind(&token)
        .execute(&mut *tx)
        .await?;
    }

    Ok(())
}

/// The members `handles` name.
fn demo_members(handles: &[&str]) -> Vec<UserId> {
    handles.iter().map(|h| UserId::new(*h)).collect()
}

const DAY: UnixMillis = 24 * 60 * 60 * 1000;

/// General, the big chat: `big_chat_messages` messages over two months, some edited and some
/// deleted.
async fn create_general_chat(
    tx: &mut sqlx::AnyConnection,
    backend: Backend,
    position: &mut i64,
    now: UnixMillis,
    big_chat_messages: usize,
) -> Result<(), ServerError> {
    // The big chat: one message every ~20 s, ending an hour ago.
    let general = new_chat(
        tx,
        position,
        "General",
        demo_members(&["alice", "bob", "carol", "dave"]),
        now - 60 * DAY,
    )
    .await?;
    let spacing: UnixMillis = 20_000;
    let big_start = now - 60 * 60 * 1000 - spacing * big_chat_messages as i64;
    let authors = ["alice", "bob", "carol", "dave", "bob", "carol", "dave"];
    let big = store::bulk_insert_tx(tx, backend, general, big_chat_messages, |seq| {
        let index = seq as usize;
        let author = UserId::new(authors[index % authors.len()]);
        let phrase = GENERAL_PHRASES[(index * 7) % GENERAL_PHRASES.len()];
        let body = serde_json::json!({ "text": format!("{phrase} (#{seq})") });
        (author, body, big_start + spacing * seq as i64)
    })
    .await?;
    // Some edits and deletes spread over the history (each takes a new rev, like a real one),
    // a few minutes after the message and never after now: times stay consistent.
    for message in big.iter().filter(|m| m.seq % 997 == 0) {
        let text = format!("{} (edited)", message.text().unwrap_or_default());
        store::edit_message_tx(
            tx,
            general,
            message.id,
            &serde_json::json!({ "text": text }),
            (message.created_at + 3 * 60_000).min(now),
        )
        .await?;
    }
    for message in big.iter().filter(|m| m.seq % 1499 == 0 && m.seq % 997 != 0) {
        let at = (message.created_at + 7 * 60_000).min(now);
        store::delete_message_tx(tx, general, message.id, at).await?;
    }
    drop(big);
    Ok(())
}

/// The small chats: five scripted conversations of alice's, an empty one, and one alice is not
/// in.
async fn create_small_chats(
    tx: &mut sqlx::AnyConnection,
    backend: Backend,
    position: &mut i64,
    now: UnixMillis,
) -> Result<(), ServerError> {
    let scripted: [(&str, &[&str], Script, UnixMillis); 5] = [
        (
            "Weekend hike 🥾",
            &["bob", "alice", "carol"],
            WEEKEND_HIKE,
            now - 3 * DAY,
        ),
        (
            "Design review",
            &["carol", "alice", "dave"],
            DESIGN_REVIEW,
            now - 2 * DAY,
        ),
        ("Bob", &["bob", "alice"], BOB_AND_ALICE, now - DAY),
        (
            "Release 1.0 planning",
            &["dave", "alice"],
            RELEASE_PLANNING,
            now - 5 * DAY,
        ),
        ("Book club", &["carol", "alice"], BOOK_CLUB, now - 10 * DAY),
    ];
    for (title, members, script, start) in scripted {
        let chat = new_chat(tx, position, title, demo_members(members), start - DAY).await?;
        insert_script(tx, backend, chat, script, start).await?;
        if title == "Design review" {
            // One edited and one deleted message in a small chat too.
            edit_by_seq(
                tx,
                chat,
                8,
                "Typo on slide 4: 'recieve' → 'receive'.",
                start + 9 * 60_000,
            )
            .await?;
            delete_by_seq(tx, chat, 9, start + 10 * 60_000).await?;
        }
    }
    new_chat(
        tx,
        position,
        "Quiet corner",
        demo_members(&["alice", "dave"]),
        now - 4 * DAY,
    )
    .await?;
    let party = new_chat(
        tx,
        position,
        "Surprise party (secret!)",
        demo_members(&["bob", "carol", "dave"]),
        now - 2 * DAY,
    )
    .await?;
    insert_script(tx, backend, party, SURPRISE_PARTY, now - 2 * DAY).await?;
    Ok(())
}

async fn insert_script(
    tx: &mut sqlx::AnyConnection,
    backend: Backend,
    chat: ChatId,
    script: Script,
    start: UnixMillis,
) -> Result<(), ServerError> {
    store::bulk_insert_tx(tx, backend, chat, script.len(), |seq| {
        let (author, text) = script[seq as usize - 1];
        (
            UserId::new(author),
            serde_json::json!({ "text": text }),
            start + seq as i64 * 60_000,
        )
    })
    .await?;
    Ok(())
}

async fn message_id_by_seq(
    tx: &mut sqlx::AnyConnection,
    chat: ChatId,
    seq: i64,
) -> Result<roost_proto::MessageId, ServerError> {
    let id: String = sqlx::query("SELECT id FROM messages WHERE chat_id = $1 AND seq = $2")
        .bind(chat.to_string())
        .bind(seq)
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
    id.parse()
        .map_err(|_| ServerError::Corrupt(format!("bad message id {id}")))
}

async fn edit_by_seq(
    tx: &mut sqlx::AnyConnection,
    chat: ChatId,
    seq: i64,
    text: &str,
    at: UnixMillis,
) -> Result<(), ServerError> {
    let id = message_id_by_seq(tx, chat, seq).await?;
    store::edit_message_tx(tx, chat, id, &serde_json::json!({ "text": text }), at).await?;
    Ok(())
}

async fn delete_by_seq(
    tx: &mut sqlx::AnyConnection,
    chat: ChatId,
    seq: i64,
    at: UnixMillis,
) -> Result<(), ServerError> {
    let id = message_id_by_seq(tx, chat, seq).await?;
    store::delete_message_tx(tx, chat, id, at).await?;
    Ok(())
}

async fn new_chat(
    tx: &mut sqlx::AnyConnection,
    position: &mut i64,
    title: &str,
    members: Vec<UserId>,
    created_at: UnixMillis,
) -> Result<ChatId, ServerError> {
    let chat = ChatId(uuid::Uuid::new_v4());
    store::insert_chat_tx(tx, chat, title, &members, members.first(), created_at).await?;
    *position += 1;
    sqlx::query("INSERT INTO demo_chats (position, chat_id) VALUES ($1, $2)")
        .bind(*position)
        .bind(chat.to_string())
        .execute(&mut *tx)
        .await?;
    Ok(chat)
}

/// How many demo tokens the database holds; an error when it has no demo tables (a database
/// `demo` never ran on, or refused).
pub async fn demo_token_count(db: &crate::db::Db) -> Result<i64, ServerError> {
    Ok(sqlx::query("SELECT COUNT(*) AS n FROM demo_tokens")
        .fetch_one(&db.read)
        .await?
        .try_get("n")?)
}
