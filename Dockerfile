# The platform's image: Deno with every dependency cached at build time, so a
# container starts without reaching the network for code.
FROM denoland/deno:2.9.6

WORKDIR /app
COPY deno.json deno.lock ./
RUN deno install --frozen
COPY . .
RUN deno cache main.ts graph.ts

USER deno
ENTRYPOINT ["deno", "run", "-A", "main.ts"]
CMD ["materialize"]
