// Container images without a registry: a root filesystem directory becomes a one-layer OCI image
// layout, archived and imported into containerd under its normalised name
// (`docker.io/library/<name>:<tag>`), so the CRI finds it and pods run it with
// `imagePullPolicy: Never`.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { must } from "./host";

/** How a container of the image starts. */
export interface ImageConfig {
  readonly entrypoint?: readonly string[];
  readonly cmd?: readonly string[];
  readonly env?: readonly string[];
  readonly user?: string;
  readonly workingDir?: string;
}

/** The name containerd stores an image under: `docker.io/library/<name>:<tag>` for a bare name. */
export function normalisedName(ref: string): string {
  const [name, tag = "latest"] = ref.split(":") as [string, string?];
  const path = name.includes("/") ? name : `library/${name}`;
  const full = path.split("/")[0]!.includes(".") ? path : `docker.io/${path}`;
  return `${full}:${tag}`;
}

function sha256File(file: string): string {
  return createHash("sha256").update(readFileSync(file)).digest("hex");
}

/**
 * Writes an OCI archive of `rootfs` (one uncompressed layer, owners kept) to `archive`.
 * @param ref the image reference, e.g. `setpoint-pause:1`.
 */
export function buildOciArchive(rootfs: string, ref: string, config: ImageConfig, archive: string, workDir: string): void {
  const layout = join(workDir, "layout");
  const blobs = join(layout, "blobs", "sha256");
  rmSync(layout, { recursive: true, force: true });
  mkdirSync(blobs, { recursive: true });
  const layerTmp = join(workDir, "layer.tar");
  must("tar", ["--numeric-owner", "--xattrs", "-C", rootfs, "-cf", layerTmp, "."]);
  const layerDigest = sha256File(layerTmp);
  const layerSize = statSync(layerTmp).size;
  renameSync(layerTmp, join(blobs, layerDigest));
  const blob = (content: string): { digest: string; size: number } => {
    const digest = createHash("sha256").update(content).digest("hex");
    writeFileSync(join(blobs, digest), content);
    return { digest: `sha256:${digest}`, size: Buffer.byteLength(content) };
  };
  const imageConfig = blob(
    JSON.stringify({
      architecture: process.arch === "arm64" ? "arm64" : "amd64",
      os: "linux",
      config: {
        ...(config.entrypoint ? { Entrypoint: config.entrypoint } : {}),
        ...(config.cmd ? { Cmd: config.cmd } : {}),
        Env: config.env ?? ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        ...(config.user ? { User: config.user } : {}),
        ...(config.workingDir ? { WorkingDir: config.workingDir } : {}),
      },
      rootfs: { type: "layers", diff_ids: [`sha256:${layerDigest}`] },
    }),
  );
  const manifest = blob(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", ...imageConfig },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: `sha256:${layerDigest}`, size: layerSize }],
    }),
  );
  const name = normalisedName(ref);
  writeFileSync(join(layout, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  writeFileSync(
    join(layout, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          ...manifest,
          annotations: { "io.containerd.image.name": name, "org.opencontainers.image.ref.name": name.slice(name.lastIndexOf(":") + 1) },
        },
      ],
    }),
  );
  must("tar", ["-C", layout, "-cf", archive, "."]);
  rmSync(layout, { recursive: true, force: true });
}

/** Imports an OCI archive into containerd's `k8s.io` namespace (the CRI's), unpacked. */
export function importImage(containerdSocket: string, archive: string): void {
  must("ctr", ["--address", containerdSocket, "-n", "k8s.io", "images", "import", archive]);
}
