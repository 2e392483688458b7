-- 0006_search (PostgreSQL): the full-text side of hybrid search, as
-- lib/store/sqlite/migrations/0006_search.sql but with tsvector columns the
-- server keeps in step (generated, stored) and GIN indexes. English
-- configuration (stemming, stop words); the title part weighs A, the rest B.
-- events: title | description, venue; members: name, headline | bio,
-- interests; posts: title | body.

ALTER TABLE events ADD COLUMN search_doc tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('english', title), 'A')
    || setweight(to_tsvector('english', description || ' ' || venue), 'B')) STORED;
CREATE INDEX events_search ON events USING gin (search_doc);

ALTER TABLE members ADD COLUMN search_doc tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('english', name || ' ' || headline), 'A')
    || setweight(to_tsvector('english', bio || ' ' || interests), 'B')) STORED;
CREATE INDEX members_search ON members USING gin (search_doc);

ALTER TABLE posts ADD COLUMN search_doc tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('english', title), 'A')
    || setweight(to_tsvector('english', body), 'B')) STORED;
CREATE INDEX posts_search ON posts USING gin (search_doc);
