# Two stages: build the release binary with the dist profile (fat LTO), then a slim
# runtime image with the default configuration and the warehouse as a volume.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --profile dist --bin lakeport \
    && cp target/dist/lakeport /usr/local/bin/lakeport

FROM debian:bookworm-slim
RUN useradd --system --home /var/lib/lakeport --create-home lakeport
COPY --from=build /usr/local/bin/lakeport /usr/local/bin/lakeport
COPY config/lakeport.toml /etc/lakeport/lakeport.toml
USER lakeport
WORKDIR /var/lib/lakeport
VOLUME /var/lib/lakeport
ENV LAKEPORT_SERVER_LISTEN=0.0.0.0:5432 \
    LAKEPORT_CATALOG_WAREHOUSE=/var/lib/lakeport/warehouse
EXPOSE 5432
ENTRYPOINT ["lakeport", "--config", "/etc/lakeport/lakeport.toml"]
