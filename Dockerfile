# The platform's image: Deno with every dependency cached at build time, so a
# container starts without reaching the network for code.
FROM denoland/deno:2.9.6

# Native GDAL (>= 3.6): the spatial pipeline picks it over gdal3.js (GDAL_ENGINE=auto); it reads
# every codec (JPEG-in-TIFF included), which the wasm build does not.
RUN apt-get update && apt-get install -y --no-install-recommends gdal-bin \
  && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY deno.json deno.lock ./
RUN deno install --frozen
COPY . .
RUN deno cache main.ts graph.ts

USER deno
ENTRYPOINT ["deno", "run", "-A", "main.ts"]
CMD ["materialize"]
