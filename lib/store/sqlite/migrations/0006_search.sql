-- 0006_search: a full-text index (FTS5) over the texts of events, members and
-- posts, for the text half of hybrid search (lib/core/ops_ai.c).
--
-- One row per entity, rowid = entity id * 4 + type (0 event, 1 member,
-- 2 post), so that a write replaces its row by rowid. title: event title;
-- member name and headline; post title. body: event description and venue;
-- member bio and interests; post body. Porter stemming ("meetups" finds
-- "meetup"), case and diacritics folded. Kept in step by triggers, whoever
-- writes; visibility is applied by the caller (deleted posts stay indexed
-- until purged and are filtered out like every hidden item).

CREATE VIRTUAL TABLE search_fts USING fts5(
    title, body, tokenize = 'porter unicode61 remove_diacritics 2'
);

INSERT INTO search_fts (rowid, title, body)
SELECT id * 4, title, description || ' ' || venue FROM events;
INSERT INTO search_fts (rowid, title, body)
SELECT id * 4 + 1, name || ' ' || headline, bio || ' ' || interests FROM members;
INSERT INTO search_fts (rowid, title, body)
SELECT id * 4 + 2, title, body FROM posts;

CREATE TRIGGER search_event_insert AFTER INSERT ON events BEGIN
    INSERT INTO search_fts (rowid, title, body)
    VALUES (new.id * 4, new.title, new.description || ' ' || new.venue);
END;
CREATE TRIGGER search_event_update AFTER UPDATE OF title, description, venue ON events BEGIN
    DELETE FROM search_fts WHERE rowid = old.id * 4;
    INSERT INTO search_fts (rowid, title, body)
    VALUES (new.id * 4, new.title, new.description || ' ' || new.venue);
END;
CREATE TRIGGER search_event_delete AFTER DELETE ON events BEGIN
    DELETE FROM search_fts WHERE rowid = old.id * 4;
END;

CREATE TRIGGER search_member_insert AFTER INSERT ON members BEGIN
    INSERT INTO search_fts (rowid, title, body)
    VALUES (new.id * 4 + 1, new.name || ' ' || new.headline, new.bio || ' ' || new.interests);
END;
CREATE TRIGGER search_member_update AFTER UPDATE OF name, headline, bio, interests ON members
BEGIN
    DELETE FROM search_fts WHERE rowid = old.id * 4 + 1;
    INSERT INTO search_fts (rowid, title, body)
    VALUES (new.id * 4 + 1, new.name || ' ' || new.headline, new.bio || ' ' || new.interests);
END;
CREATE TRIGGER search_member_delete AFTER DELETE ON members BEGIN
    DELETE FROM search_fts WHERE rowid = old.id * 4 + 1;
END;

CREATE TRIGGER search_post_insert AFTER INSERT ON posts BEGIN
    INSERT INTO search_fts (rowid, title, body) VALUES (new.id * 4 + 2, new.title, new.body);
END;
CREATE TRIGGER search_post_update AFTER UPDATE OF title, body ON posts BEGIN
    DELETE FROM search_fts WHERE rowid = old.id * 4 + 2;
    INSERT INTO search_fts (rowid, title, body) VALUES (new.id * 4 + 2, new.title, new.body);
END;
CREATE TRIGGER search_post_delete AFTER DELETE ON posts BEGIN
    DELETE FROM search_fts WHERE rowid = old.id * 4 + 2;
END;
