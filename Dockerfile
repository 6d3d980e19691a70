# attivi: static Go binary on debian-slim, running as an unprivileged user.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/attivi .

FROM debian:12-slim
# ca-certificates: TLS to an external S3/PostgreSQL; curl: the compose healthcheck on /readyz.
RUN apt-get update \
	&& apt-get install -y --no-install-recommends ca-certificates curl \
	&& rm -rf /var/lib/apt/lists/* \
	&& groupadd --system --gid 10001 attivi \
	&& useradd --system --uid 10001 --gid attivi --no-create-home --home-dir /nonexistent \
		--shell /usr/sbin/nologin attivi
COPY --from=build /out/attivi /usr/local/bin/attivi
USER 10001:10001
ENV ATTIVI_ENV=production ATTIVI_LISTEN=:8080
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/attivi"]
CMD ["serve"]
