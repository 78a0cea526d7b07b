/**
 * A photo taken for a hazard case, made small enough to send over a phone's network: at most
 * [`MAX_PHOTO_PX`] on its longer side, as JPEG (the server keeps images up to 4 MiB).
 */

/** The longest side of an uploaded photo, in pixels. */
export const MAX_PHOTO_PX = 1600;

/** JPEG quality of an uploaded photo. */
const QUALITY = 0.85;

/** The photo `file` redrawn as a JPEG of at most [`MAX_PHOTO_PX`] on its longer side. */
export async function shrinkPhoto(file: Blob): Promise<Blob> {
  // The browser turns the photo upright (EXIF orientation) as it decodes it.
  const bitmap = await createImageBitmap(file);
  try {
    const scale = Math.min(1, MAX_PHOTO_PX / Math.max(bitmap.width, bitmap.height));
    const canvas = document.createElement('canvas');
    canvas.width = Math.max(1, Math.round(bitmap.width * scale));
    canvas.height = Math.max(1, Math.round(bitmap.height * scale));
    const context = canvas.getContext('2d');
    if (!context) throw new Error('canvas 2d');
    // A transparent PNG becomes white, not black, as JPEG.
    context.fillStyle = '#ffffff';
    context.fillRect(0, 0, canvas.width, canvas.height);
    context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    return await new Promise<Blob>((resolve, reject) =>
      canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error('toBlob'))), 'image/jpeg', QUALITY),
    );
  } finally {
    bitmap.close();
  }
}
