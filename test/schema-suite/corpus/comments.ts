import { slot, type SchemaPair } from "./pair";

const objects = `CREATE SCHEMA cms;
CREATE TYPE cms.state AS ENUM ('draft', 'live');
CREATE DOMAIN cms.slug AS text CONSTRAINT slug_chars CHECK (VALUE ~ '^[a-z0-9-]+$');
CREATE TYPE cms.dims AS (w int, h int);
CREATE SEQUENCE cms.page_no;
CREATE TABLE cms.page (id int PRIMARY KEY, slug cms.slug NOT NULL, state cms.state, CONSTRAINT page_slug_key UNIQUE (slug), CONSTRAINT page_id_check CHECK (id > 0));
CREATE INDEX page_state_idx ON cms.page (state);
CREATE VIEW cms.live_page AS SELECT id, slug FROM cms.page WHERE state = 'live';
CREATE MATERIALIZED VIEW cms.page_count AS SELECT count(*) AS n FROM cms.page;
CREATE FUNCTION cms.page_total() RETURNS bigint LANGUAGE sql AS $$ SELECT count(*) FROM cms.page $$;
CREATE FUNCTION cms.touch_page() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER page_touch BEFORE UPDATE ON cms.page FOR EACH ROW EXECUTE FUNCTION cms.touch_page();
ALTER TABLE cms.page ENABLE ROW LEVEL SECURITY;
CREATE POLICY page_read ON cms.page FOR SELECT USING (true);`;

/** One comment per object kind, so each change is one pair. */
const commentable: Record<string, string> = {
  schema: `COMMENT ON SCHEMA cms IS '%';`,
  table: `COMMENT ON TABLE cms.page IS '%';`,
  column: `COMMENT ON COLUMN cms.page.slug IS '%';`,
  index: `COMMENT ON INDEX cms.page_state_idx IS '%';`,
  constraint: `COMMENT ON CONSTRAINT page_slug_key ON cms.page IS '%';`,
  check: `COMMENT ON CONSTRAINT page_id_check ON cms.page IS '%';`,
  enum: `COMMENT ON TYPE cms.state IS '%';`,
  domain: `COMMENT ON DOMAIN cms.slug IS '%';`,
  domain_check: `COMMENT ON CONSTRAINT slug_chars ON DOMAIN cms.slug IS '%';`,
  composite: `COMMENT ON TYPE cms.dims IS '%';`,
  attribute: `COMMENT ON COLUMN cms.dims.w IS '%';`,
  sequence: `COMMENT ON SEQUENCE cms.page_no IS '%';`,
  view: `COMMENT ON VIEW cms.live_page IS '%';`,
  view_column: `COMMENT ON COLUMN cms.live_page.slug IS '%';`,
  matview: `COMMENT ON MATERIALIZED VIEW cms.page_count IS '%';`,
  function: `COMMENT ON FUNCTION cms.page_total() IS '%';`,
  trigger: `COMMENT ON TRIGGER page_touch ON cms.page IS '%';`,
  policy: `COMMENT ON POLICY page_read ON cms.page IS '%';`,
};

/** Comments added, changed and removed on every object kind. */
export const commentPairs: SchemaPair[] = Object.entries(commentable).flatMap(([what, template]) =>
  slot("comments", what, {
    prelude: objects,
    variants: {
      none: ``,
      first: template.replace("%", `the ${what}`),
      second: template.replace("%", `the ${what}, it''s changed`),
    },
    pairs: "chain",
  }),
);
