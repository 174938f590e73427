# Warren in a container:
# `docker build -t warren . && docker run -p 5672:5672 -p 15672:15672 -p 15692:15692 warren`
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release -p warren-server --bin warren -p warren-cli --bin warrenctl

FROM debian:bookworm-slim
COPY --from=build /src/target/release/warren /src/target/release/warrenctl /usr/local/bin/
COPY etc/warren.toml /etc/warren/warren.toml
RUN useradd --system --home /var/lib/warren warren && mkdir -p /var/lib/warren && chown warren /var/lib/warren
USER warren
# Clients reach a container from outside loopback: let guest log in from
# anywhere, as RabbitMQ's own image does (set a real user in production).
ENV WARREN_LOOPBACK_USERS=none
# 5671 and 15671 serve AMQPS and HTTPS once certificates are mounted and named
# (WARREN_TLS_CERT=/etc/warren/tls/server.pem WARREN_TLS_KEY=...; SIGHUP,
# e.g. `docker kill -s HUP`, re-reads them).
EXPOSE 5672 5671 15672 15671 15692
ENTRYPOINT ["warren", "--config", "/etc/warren/warren.toml", "--data-dir", "/var/lib/warren"]
