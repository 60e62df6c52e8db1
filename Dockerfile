# The platform's image. Deno with every dependency cached at build time (a
# container never fetches code), the code root-owned and read-only, run as the
# unprivileged `deno` user. Everything the platform writes at run time goes
# under STATE_DIR (/state: a volume) and TMPDIR (/tmp: a tmpfs), so compose
# runs it with `read_only: true`. tests/image_test.ts reproduces this layout
# without Docker: it reads the ENV, USER and ENTRYPOINT lines below.
FROM denoland/deno:2.9.6

# Native GDAL (>= 3.6): the spatial pipeline picks it over gdal3.js (GDAL_ENGINE=auto); it reads
# every codec (JPEG-in-TIFF included), which the wasm build does not.
RUN apt-get update && apt-get install -y --no-install-recommends gdal-bin \
  && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY deno.json deno.lock ./
RUN deno install --frozen
COPY . .
# Cache (and transpile) everything the commands load, then make the code and
# the cache read-only: nothing under /app or DENO_DIR changes at run time.
# Some npm tarballs carry owner-only files (@nodable/entities 3.1.0, which
# fast-xml-parser loads, ships 0600 sources): a+rX lets the `deno` user read them.
RUN deno cache main.ts graph.ts \
  && chown -R root:root /app "$DENO_DIR" \
  && chmod -R a+rX "$DENO_DIR" \
  && chmod -R a-w /app \
  && mkdir -p /state && chown deno:deno /state

ENV STATE_DIR=/state LAKE_URL=file:///state/data_lake TMPDIR=/tmp
VOLUME ["/state"]

USER deno
# launch.ts runs main.ts with only the permissions the command needs under this
# configuration (README, "Security"); SIGTERM is passed on to it.
ENTRYPOINT ["deno", "run", "--cached-only", "--allow-read", "--allow-env", "--allow-run", "launch.ts", "--cached-only"]
CMD ["materialize"]
