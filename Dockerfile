# Warren in a container: `docker build -t warren . && docker run -p 5672:5672 warren`
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release -p warren-server --bin warren

FROM debian:bookworm-slim
COPY --from=build /src/target/release/warren /usr/local/bin/warren
COPY etc/warren.toml /etc/warren/warren.toml
RUN useradd --system --home /var/lib/warren warren && mkdir -p /var/lib/warren && chown warren /var/lib/warren
USER warren
EXPOSE 5672
ENTRYPOINT ["warren", "--config", "/etc/warren/warren.toml", "--data-dir", "/var/lib/warren"]
