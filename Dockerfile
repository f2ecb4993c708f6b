# One image for every expertcast service (topics, predictor, allocator, emulator, replay); the
# command picks the part: `docker run expertcast:local predictor --bootstrap kafka:9092`.

# --- build: the reactor up to the launcher, then the launcher's runtime jars in one folder ---
FROM maven:3.9-eclipse-temurin-17 AS build
WORKDIR /src
COPY . .
RUN mvn -B -q -DskipTests install -pl launcher -am \
 && mvn -B -q -pl launcher dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory=/out/lib \
 && cp -r launcher/target/classes /out/classes

# --- runtime: a JRE, the classes, the jars, the bundled sample traces ---
FROM eclipse-temurin:17-jre
RUN useradd --system --create-home --home-dir /home/expertcast expertcast \
 && mkdir -p /app/work /state \
 && chown expertcast /app/work /state
COPY --from=build /out/lib /app/lib
COPY --from=build /out/classes /app/classes
COPY data/sample /app/data/sample
COPY scripts/docker/expertcast /usr/local/bin/expertcast
ENV EXPERTCAST_HOME=/app
WORKDIR /app
USER expertcast
ENTRYPOINT ["expertcast"]
CMD ["--help"]
